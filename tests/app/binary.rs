//! The real binary: configuration errors and shutdown.

use std::process::{Command, Stdio};

fn doable() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_doable"));
    // Start from a clean slate: no .env, no inherited settings.
    let dir = tempfile::tempdir().unwrap();
    command.current_dir(dir.keep()).env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    command
}

fn fails_with(command: &mut Command, variable: &str) {
    let output = command.stdout(Stdio::null()).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "exit code; stderr: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(lines[0].contains(variable), "names {variable}: {stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"), "{stderr}");
}

#[test]
fn production_without_a_secret_exits_2_naming_jwt_secret() {
    fails_with(doable().env("ENVIRONMENT", "production"), "JWT_SECRET");
}

#[test]
fn production_with_a_short_secret_exits_2() {
    fails_with(doable().env("ENVIRONMENT", "production").env("JWT_SECRET", "too-short"), "JWT_SECRET");
    fails_with(doable().env("ENVIRONMENT", "production").env("BETTER_AUTH_SECRET", "too-short"), "BETTER_AUTH_SECRET");
}

#[test]
fn an_unparseable_database_url_exits_2() {
    fails_with(doable().env("DATABASE_URL", "mysql://nope"), "DATABASE_URL");
    fails_with(doable().env("DATABASE_URL", "postgres://user@host:notaport/db"), "DATABASE_URL");
}

#[test]
fn a_bad_number_exits_2() {
    fails_with(doable().env("JWT_ACCESS_TOKEN_EXPIRE_MINUTES", "soon"), "JWT_ACCESS_TOKEN_EXPIRE_MINUTES");
    fails_with(doable().env("BIND_ADDR", "localhost"), "BIND_ADDR");
}

#[cfg(unix)]
#[test]
fn sigterm_drains_and_exits_0() {
    stops_cleanly_on("-TERM");
}

#[cfg(unix)]
#[test]
fn ctrl_c_drains_and_exits_0() {
    stops_cleanly_on("-INT");
}

#[cfg(unix)]
fn stops_cleanly_on(signal: &str) {
    use std::{io::BufRead, time::Duration};
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = doable()
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env("LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let listening = lines.by_ref().map_while(Result::ok).find(|l| l.contains("listening"));
    assert!(listening.is_some(), "the server started");
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());

    let killed = Command::new("kill").args([signal, &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "did not exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(rest.iter().any(|l| l.contains("shut down cleanly")), "{rest:?}");
}

#[test]
fn an_unreachable_database_is_retried_then_exits_2() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let started = std::time::Instant::now();
    fails_with(
        doable()
            .env("DATABASE_URL", format!("postgres://postgres@127.0.0.1:{port}/nothing"))
            .env("DATABASE_CONNECT_RETRY_SECONDS", "2"),
        "DATABASE_URL",
    );
    let took = started.elapsed();
    assert!(took >= std::time::Duration::from_millis(1500), "retried for a while: {took:?}");
    assert!(took < std::time::Duration::from_secs(10), "then gave up: {took:?}");
}

/// SQLite runs with `synchronous=NORMAL`: a commit reaches the write-ahead
/// log before it is acknowledged, so a process killed outright (no drain, no
/// checkpoint) keeps every write it acknowledged. 16 clients create tasks
/// until the server is killed with SIGKILL mid-stream; a fresh server on the
/// same file must list every task that was answered 201.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_kill_9_loses_no_acknowledged_write() {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    let data = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}/doable.db", data.path().display());
    let start = || {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = doable()
            .env("DATABASE_URL", &database_url)
            .env("JWT_SECRET", "kill-nine-".repeat(7))
            .env("BIND_ADDR", format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        (child, format!("http://127.0.0.1:{port}/api/v1"))
    };
    let client = reqwest::Client::new();
    let ready = |base: String| {
        let client = client.clone();
        async move {
            for _ in 0..200 {
                if client.get(format!("{base}/openapi.json")).send().await.is_ok_and(|r| r.status().is_success()) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("the server did not start");
        }
    };
    let credentials = serde_json::json!({"email": "kill9@example.com", "password": "correct horse battery staple"});
    let token = |base: String| {
        let (client, credentials) = (client.clone(), credentials.clone());
        async move {
            let pair: serde_json::Value = client
                .post(format!("{base}/auth/token"))
                .json(&credentials)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            pair["access_token"].as_str().unwrap().to_owned()
        }
    };

    let (mut first, base) = start();
    ready(base.clone()).await;
    let signed_up = client.post(format!("{base}/auth/signup")).json(&credentials).send().await.unwrap();
    assert_eq!(signed_up.status(), reqwest::StatusCode::CREATED);
    let access = token(base.clone()).await;
    let acknowledged = Arc::new(Mutex::new(Vec::<i64>::new()));
    let writers: Vec<_> = (0..16)
        .map(|w| {
            let (client, base, access, acknowledged) =
                (client.clone(), base.clone(), access.clone(), acknowledged.clone());
            tokio::spawn(async move {
                for n in 0.. {
                    let body = serde_json::json!({"title": format!("writer {w} task {n}")});
                    let Ok(reply) = client.post(format!("{base}/tasks")).bearer_auth(&access).json(&body).send().await
                    else {
                        return;
                    };
                    if reply.status() != reqwest::StatusCode::CREATED {
                        return;
                    }
                    let Ok(task) = reply.json::<serde_json::Value>().await else { return };
                    acknowledged.lock().unwrap().push(task["id"].as_i64().unwrap());
                }
            })
        })
        .collect();
    while acknowledged.lock().unwrap().len() < 300 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    first.kill().unwrap(); // SIGKILL: no drain, no checkpoint, no clean close
    first.wait().unwrap();
    for writer in writers {
        writer.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();

    let (mut second, base) = start();
    ready(base.clone()).await;
    let access = token(base.clone()).await;
    let mut listed = std::collections::HashSet::new();
    let mut cursor = String::new();
    loop {
        let page: serde_json::Value = client
            .get(format!("{base}/tasks?limit=100&cursor={cursor}"))
            .bearer_auth(&access)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        listed.extend(page["items"].as_array().unwrap().iter().map(|t| t["id"].as_i64().unwrap()));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    second.kill().unwrap();
    second.wait().unwrap();
    let lost: Vec<_> = acknowledged.iter().filter(|id| !listed.contains(id)).collect();
    assert!(acknowledged.len() >= 300);
    assert!(lost.is_empty(), "{} of {} acknowledged tasks lost: {lost:?}", lost.len(), acknowledged.len());
}
