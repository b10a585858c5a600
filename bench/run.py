#!/usr/bin/env python3
"""doable's load benchmark, side by side with ../shared/ceiling.

Builds nothing: it runs the release binary you built (`cargo build --release`)
and, when built, the ceiling (see its README). For each backend it starts
doable on fresh data, seeds it through the API, loads it with wrk and prints
one table: requests/s, p50, p99 and the server's peak RSS per scenario, and
ratios against the ceiling's matching route measured in the same run.

    cargo build --release
    cargo build --release --manifest-path ../shared/ceiling/Cargo.toml --target-dir target/ceiling
    python3 bench/run.py                        # SQLite and PostgreSQL, 10 s a scenario
    python3 bench/run.py --backends sqlite --seconds 5

Needs wrk (`apt-get install wrk`). The server is pinned to CPU 0 and wrk to
CPU 1 (taskset), as the issue's measurements were; PostgreSQL, where used, is
the machine's (127.0.0.1:5432, a fresh database per run, dropped afterwards),
and is not pinned: its processes run wherever the system puts them.
On PostgreSQL it then seeds the same database to issue 12's scale (10,000
more users × 200 tasks, a million security events; straight into the tables
as their owner, which needs a superuser: the admin URL's) and measures the
list, the page, a create and a sign-in again (`--no-scale` skips that).
The machine is shared and noisy: read the ratios, not the absolute figures.
"""

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

PASSWORD = "correct horse battery staple"
TASKS = 10_000
LISTS, LABELS = 50, 20
ACCOUNTS = 32  # sign-in floods spread over these (the hashing queue holds 4 checks per account)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pinned(cpu, cmd):
    return (["taskset", "-c", str(cpu)] if shutil.which("taskset") else []) + cmd


def request(method, url, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def wait_ready(base, process, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process.poll() is not None:
            sys.exit(f"the server exited with {process.returncode} before it was ready")
        try:
            if request("GET", base + "/healthz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    sys.exit("the server did not become ready")


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class PeakRss:
    """Samples a process's RSS every 20 ms while a scenario runs."""

    def __init__(self, pid):
        self.pid, self.peak, self.running = pid, 0, True
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()

    def sample(self):
        while self.running:
            self.peak = max(self.peak, rss_kib(self.pid))
            time.sleep(0.02)

    def stop(self):
        self.running = False
        self.thread.join()
        return self.peak


def lua(directory, name, text):
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def wrk(url, seconds, connections, headers=(), script=None, cpu=1):
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    for header in headers:
        cmd += ["-H", header]
    if script:
        cmd += ["-s", script]
    out = subprocess.run(pinned(cpu, cmd + [url]), capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rate": rate,
        "p50": to_ms(percentiles.get("50", "0ms")),
        "p99": to_ms(percentiles.get("99", "0ms")),
        "errors": int(errors.group(1)) if errors else 0,
    }


def to_ms(text):
    number, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return float(number) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]


class Server:
    def __init__(self, cmd, env, log):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, **env, BIND_ADDR=f"127.0.0.1:{self.port}")
        self.log = open(log, "w")
        self.process = subprocess.Popen(pinned(0, cmd), env=env, stdout=self.log, stderr=subprocess.STDOUT)
        wait_ready(self.base, self.process)

    @property
    def pid(self):
        # taskset execs the binary, so the child is the server itself.
        return self.process.pid

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def doable_env(database_url, data_dir):
    relaxed = "100000000/1s"
    return {
        "DATABASE_URL": database_url,
        "DATA_DIR": data_dir,
        "JWT_SECRET": "bench-" + "x" * 58,
        "RUST_LOG": "info",
        # The load comes from one address and a handful of accounts: the
        # throttles would answer most of it with 429 (correctly) otherwise.
        "RATE_LIMIT_SIGNIN_PER_ACCOUNT": relaxed,
        "RATE_LIMIT_SIGNIN_PER_IP": relaxed,
        "RATE_LIMIT_SIGNUP_PER_IP": relaxed,
        "MAX_CONNECTIONS_PER_IP": "1000000",
        "MAX_SESSIONS_PER_USER": "100000",
    }


def seed(base, shape):
    """Accounts through the API; the first gets TASKS tasks. Returns its token and task ids.

    `organised` is issue 13's shape; `plain` is the ceiling's own data (its
    titles, every other task done, one list, no labels or priorities), so
    that the ratios against it compare like with like."""
    emails = [f"bench{i}@example.com" for i in range(ACCOUNTS)]
    for email in emails:
        status, body = request("POST", base + "/api/v1/auth/signup", {"email": email, "password": PASSWORD})
        assert status == 201, (status, body)
    status, body = request("POST", base + "/api/v1/auth/token", {"email": emails[0], "password": PASSWORD})
    token = json.loads(body)["access_token"]
    auth = {"Authorization": f"Bearer {token}"}

    def plain(n):
        return {"title": f"Task number {n + 1} for the benchmark user", "completed": (n + 1) % 2 == 0}

    # Issue 13's shape: the tasks over 50 lists (the Inbox and 49 more) and
    # 20 labels, one or two a task, and a priority on four tasks in five.
    lists = [None]
    for n in range(LISTS - 1 if shape == "organised" else 0):
        status, body = request("POST", base + "/api/v1/lists", {"name": f"List {n}"}, auth)
        assert status == 201, (status, body)
        lists.append(json.loads(body)["id"])

    def organised(n):
        task = {"title": f"Task number {n}", "labels": sorted({f"label{n % LABELS}", f"label{n * 7 % LABELS}"})}
        if lists[n % LISTS] is not None:
            task["list_id"] = lists[n % LISTS]
        if n % 5:
            task["priority"] = n % 5
        return task

    def create(n):
        status, body = request("POST", base + "/api/v1/tasks", plain(n) if shape == "plain" else organised(n), auth)
        assert status == 201, (status, body)
        return json.loads(body)["id"]

    with ThreadPoolExecutor(8) as pool:
        ids = sorted(pool.map(create, range(TASKS)))
    return token, emails, ids


def measure_doable(label, binary, database_url, args, scripts):
    data_dir = tempfile.mkdtemp(prefix="doable-bench-")
    server = Server([binary], doable_env(database_url, data_dir), os.path.join(data_dir, "server.log"))
    try:
        idle = rss_kib(server.pid)
        token, emails, ids = seed(server.base, args.shape)
        if database_url.startswith("postgres"):
            # What autovacuum does a little later on its own: without the
            # statistics, the first plans over freshly seeded tables are guesses.
            subprocess.run(["psql", database_url, "-qc", "ANALYZE"], check=True, capture_output=True)
        bearer = f"Authorization: Bearer {token}"
        cookie = f"Cookie: doable_access={token}"
        status, page = request("GET", server.base + "/tasks", headers={"Cookie": f"doable_access={token}"})
        assert status == 200, status
        deep = ids[len(ids) // 50]  # a cursor 98% of the way down the list
        scenarios = [
            ("api_list", server.base + "/api/v1/tasks?limit=50", [bearer], None),
            ("page", server.base + "/tasks", [cookie], None),
            ("api_list_deep", server.base + f"/api/v1/tasks?limit=50&cursor={deep}", [bearer], None),
            ("create", server.base + "/api/v1/tasks", [bearer], scripts["create"]),
            ("signin", server.base + "/api/v1/auth/token", [], scripts["signin"]),
        ]
        if args.shape == "organised":
            scenarios += [
                # Issue 13: a label-filtered and a priority-sorted page, each as
                # the page and through the API (1,000 tasks carry label3).
                ("page_label", server.base + "/tasks?label=label3", [cookie], None),
                ("page_priority", server.base + "/tasks?sort=priority", [cookie], None),
                ("api_list_label", server.base + "/api/v1/tasks?limit=50&label=label3", [bearer], None),
                ("api_list_priority", server.base + "/api/v1/tasks?limit=50&sort=priority", [bearer], None),
            ]
        rows = {}
        for name, url, headers, script in scenarios:
            peak = PeakRss(server.pid)
            rows[name] = wrk(url, args.seconds, args.connections, headers, script)
            rows[name]["rss"] = peak.stop()
        # Mixed: the list read by 24 connections while 8 sign in.
        peak = PeakRss(server.pid)
        with ThreadPoolExecutor(2) as pool:
            reads = pool.submit(wrk, server.base + "/api/v1/tasks?limit=50", args.seconds, 24, [bearer])
            signins = pool.submit(wrk, server.base + "/api/v1/auth/token", args.seconds, 8, [], scripts["signin"])
            rows["mixed_list"], rows["mixed_signin"] = reads.result(), signins.result()
        rows["mixed_list"]["rss"] = rows["mixed_signin"]["rss"] = peak.stop()
        result = {"label": label, "idle_rss": idle, "page_bytes": len(page), "rows": rows}
        if args.scale and database_url.startswith("postgres"):
            result["scale_seconds"] = seed_scale(database_url)
            result["scaled"] = {}
            for name, url, headers, script in scenarios:
                if name in SCALED:
                    result["scaled"][name] = wrk(url, args.seconds, args.connections, headers, script)
        return result
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


# What is measured again at scale (issue 12's scenarios).
SCALED = ["api_list", "page", "create", "signin"]
SCALE_USERS, SCALE_TASKS, SCALE_EVENTS = 10_000, 200, 100  # events per user: a million in all

# Issue 12's scale: written straight into the database as its owner (through
# the API it would take hours), beside the benchmark's own accounts. Triggers
# are off while the tasks go in (session_replication_role), so the counts
# they keep are written once at the end; events spread over the last 300
# days, inside the year the purge keeps, so no purge runs during the load.
SCALE_SQL = f"""
SET session_replication_role = replica;
INSERT INTO users (id, email, password_hash, is_active, created_at, updated_at)
SELECT gen_random_uuid(), 'scale' || i || '@example.com', (SELECT password_hash FROM users LIMIT 1), true, now(), now()
FROM generate_series(1, {SCALE_USERS}) i;
INSERT INTO lists (user_id, name, name_folded, is_inbox, created_at, updated_at)
SELECT id, 'Inbox', 'inbox', true, now(), now() FROM users WHERE email LIKE 'scale%';
INSERT INTO tasks (user_id, list_id, title, title_folded, completed, completed_at, due_date, created_at, updated_at)
SELECT u.id, l.id, 'Scale task ' || n, 'scale task ' || n, n % 3 = 0, CASE WHEN n % 3 = 0 THEN now() END,
       CASE WHEN n % 5 = 0 THEN current_date + n % 30 END, now(), now()
FROM users u JOIN lists l ON l.user_id = u.id AND l.is_inbox CROSS JOIN generate_series(1, {SCALE_TASKS}) n
WHERE u.email LIKE 'scale%';
UPDATE lists l SET open_count = {SCALE_TASKS} - {SCALE_TASKS} / 3, done_count = {SCALE_TASKS} / 3
FROM users u WHERE u.id = l.user_id AND u.email LIKE 'scale%';
INSERT INTO task_counts (user_id, active, completed)
SELECT user_id, count(*) FILTER (WHERE NOT completed), count(*) FILTER (WHERE completed)
FROM tasks WHERE deleted_at IS NULL AND user_id IN (SELECT id FROM users WHERE email LIKE 'scale%') GROUP BY user_id;
INSERT INTO sessions (id, user_id, refresh_hash, created_at, last_seen_at, expires_at, revoked_at, user_agent, ip)
SELECT gen_random_uuid(), u.id, md5(u.id::text || k), now(), now(),
       CASE WHEN k = 2 THEN now() - interval '1 hour' ELSE now() + interval '30 days' END,
       CASE WHEN k = 3 THEN now() END, 'bench', '127.0.0.1'
FROM users u CROSS JOIN generate_series(1, 3) k WHERE u.email LIKE 'scale%';
INSERT INTO security_events (user_id, event, ip, user_agent, created_at)
SELECT u.id, 'signin', '127.0.0.1', 'bench', now() - random() * interval '300 days'
FROM users u CROSS JOIN generate_series(1, {SCALE_EVENTS}) n WHERE u.email LIKE 'scale%';
SET session_replication_role = DEFAULT;
"""

# A database that size in service has been vacuumed and checkpointed; the
# measurement should not race autovacuum's first pass over two million new
# rows, or the checkpoint that writes them out.
SCALE_SETTLE = ["VACUUM ANALYZE", "CHECKPOINT"]


def seed_scale(database_url):
    started = time.monotonic()
    subprocess.run(["psql", database_url, "-v", "ON_ERROR_STOP=1", "-qc", SCALE_SQL], check=True, capture_output=True)
    for statement in SCALE_SETTLE:
        subprocess.run(["psql", database_url, "-qc", statement], check=True, capture_output=True)
    return time.monotonic() - started


def measure_ceiling(binary, args):
    data_dir = tempfile.mkdtemp(prefix="ceiling-bench-")
    server = Server([binary], {"DATABASE_URL": f"sqlite://{data_dir}/c.db"}, os.path.join(data_dir, "server.log"))
    try:
        status, page = request("GET", server.base + "/page")
        rows = {}
        for name, path in [("api_list", "/list"), ("page", "/page"), ("signin", "/argon2")]:
            rows[name] = wrk(server.base + path, args.seconds, args.connections)
        return {"page_bytes": len(page), "rows": rows}
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def postgres_database(admin_url):
    name = f"doable_bench_{os.getpid()}"
    subprocess.run(["psql", admin_url, "-qc", f"CREATE DATABASE {name}"], check=True)
    base = admin_url.rsplit("/", 1)[0]
    return name, f"{base}/{name}"


def drop_postgres_database(admin_url, name):
    subprocess.run(
        ["psql", admin_url, "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", "-c", f"DROP ROLE IF EXISTS doable_app_{name}"],
        capture_output=True,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default="target/release/doable")
    parser.add_argument("--ceiling", default="target/ceiling/release/axum-ceiling")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432/postgres", help="an admin URL")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--shape", choices=["organised", "plain"], default="organised",
                        help="the seeded tasks: issue 13's lists, labels and priorities, or the ceiling's plain rows")
    parser.add_argument("--scale", action=argparse.BooleanOptionalAction, default=True,
                        help="on PostgreSQL, also measure after seeding 10,000 users × 200 tasks and a million security events")
    args = parser.parse_args()
    for tool in ["wrk", args.binary]:
        if not shutil.which(tool) and not os.path.exists(tool):
            sys.exit(f"{tool} is missing (wrk: apt-get install wrk; doable: cargo build --release)")

    scripts_dir = tempfile.mkdtemp(prefix="bench-lua-")
    scripts = {
        "create": lua(scripts_dir, "create.lua", """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, '{"title": "Load task ' .. n .. '"}')
end
"""),
        "signin": lua(scripts_dir, "signin.lua", f"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, '{{"email": "bench' .. (n % {ACCOUNTS}) .. '@example.com", "password": "{PASSWORD}"}}')
end
"""),
    }
    results = []
    for backend in args.backends.split(","):
        if backend == "sqlite":
            directory = tempfile.mkdtemp(prefix="doable-sqlite-")
            results.append(measure_doable("SQLite", args.binary, f"sqlite://{directory}/doable.db", args, scripts))
            shutil.rmtree(directory, ignore_errors=True)
        elif backend == "postgres":
            name, url = postgres_database(args.postgres)
            try:
                results.append(measure_doable("PostgreSQL", args.binary, url, args, scripts))
            finally:
                drop_postgres_database(args.postgres, name)
    ceiling = measure_ceiling(args.ceiling, args) if os.path.exists(args.ceiling) else None
    report(results, ceiling, args)


def report(results, ceiling, args):
    print(f"\n{args.connections} connections, {args.seconds} s a scenario, {args.shape} data; server on CPU 0, wrk on CPU 1\n")
    header = "| scenario | " + " | ".join(
        f"{r['label']} req/s | p50 ms | p99 ms | peak RSS MB" + (" | × ceiling" if ceiling else "") for r in results
    ) + (" | ceiling req/s |" if ceiling else " |")
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    matching = {"api_list": "api_list", "page": "page", "signin": "signin"}
    # The ceiling has no labels or priorities: its plain page and list are
    # the yardstick for the filtered and sorted ones too.
    matching.update({"page_label": "page", "page_priority": "page",
                     "api_list_label": "api_list", "api_list_priority": "api_list"})
    for name in results[0]["rows"]:
        cells = []
        for r in results:
            row = r["rows"][name]
            errors = f" ({row['errors']} errors)" if row["errors"] else ""
            cells.append(f"{row['rate']:.0f}{errors} | {row['p50']:.1f} | {row['p99']:.1f} | {row['rss'] / 1024:.0f}")
            if ceiling:
                base = ceiling["rows"].get(matching.get(name, ""), {}).get("rate")
                cells[-1] += f" | {row['rate'] / base:.2f}" if base else " | –"
        base = ceiling["rows"].get(matching.get(name, ""), {}).get("rate") if ceiling else None
        tail = (f" | {base:.0f} |" if base else " | – |") if ceiling else " |"
        print(f"| {name} | " + " | ".join(cells) + tail)
    for r in results:
        print(f"\n{r['label']}: idle RSS {r['idle_rss'] / 1024:.1f} MB; a 50-task page is {r['page_bytes'] / 1024:.1f} KB uncompressed"
              + (f" (ceiling's: {ceiling['page_bytes'] / 1024:.1f} KB)" if ceiling else ""))
    for r in results:
        if "scaled" not in r:
            continue
        print(f"\n{r['label']} at scale ({SCALE_USERS:,} more users × {SCALE_TASKS} tasks, {SCALE_USERS * SCALE_EVENTS:,} security events; "
              f"seeded, vacuumed and checkpointed in {r['scale_seconds']:.0f} s) against the same server fresh, above:\n")
        print("| scenario | fresh req/s | p99 ms | at scale req/s | p99 ms | cost at scale / fresh |")
        print("|---|---|---|---|---|---|")
        for name, row in r["scaled"].items():
            fresh = r["rows"][name]
            print(f"| {name} | {fresh['rate']:.0f} | {fresh['p99']:.1f} | {row['rate']:.0f} | {row['p99']:.1f} | {fresh['rate'] / row['rate']:.2f} |")
    if len(results) == 2:
        a, b = results
        for name in ["api_list", "page"]:
            print(f"{b['label']} / {a['label']} on {name}: {b['rows'][name]['rate'] / a['rows'][name]['rate']:.2f}")


if __name__ == "__main__":
    main()
