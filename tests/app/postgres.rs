//! PostgreSQL as the backend of several instances: shared revocation,
//! concurrent migrations, outages and recovery.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use doable::db::{DatabaseUrl, Db};
use reqwest::StatusCode;
use sqlx::Executor;
use tokio::{net::TcpListener, sync::Mutex, task::JoinHandle};

use crate::common::{Backend, PASSWORD, TestApp, postgres_url, unique_email, unrestricted};

#[tokio::test]
async fn a_sign_out_in_one_instance_is_refused_by_the_other_at_once() {
    let Some(url) = postgres_url() else { return };
    let one = TestApp::spawn(Backend::Postgres).await.unwrap();
    let two = TestApp::boot(Backend::Postgres, tempfile::tempdir().unwrap(), &url, &[]).await;

    let browser = one.signed_in().await;
    let cookies = browser.cookie_header();
    let on_two = |cookies: String| {
        let base = two.base.clone();
        async move {
            let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
            client.get(format!("{base}/tasks")).header("cookie", cookies).send().await.unwrap()
        }
    };
    assert_eq!(on_two(cookies.clone()).await.status(), StatusCode::OK, "one session, both instances");
    browser.get("/tasks").await;
    browser.post("/signout", &[]).await;
    assert_eq!(on_two(cookies).await.status(), StatusCode::SEE_OTHER, "refused by the other instance at once");

    // "Sign out everywhere" on one instance reaches sessions used on the other.
    let email = unique_email();
    let laptop = one.browser();
    laptop.sign_up(&email, PASSWORD).await;
    let phone = two.browser();
    phone.sign_in(&email, PASSWORD).await;
    laptop.get("/account").await;
    laptop.post("/account/signout-everywhere", &[]).await;
    assert!(phone.get("/tasks").await.location().starts_with("/signin"));
}

#[tokio::test]
async fn instances_starting_together_migrate_once() {
    let Some(url) = postgres_url() else { return };
    let admin = sqlx::PgPool::connect(&url).await.unwrap();
    let name = format!("doable_migrate_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await.unwrap();
    let fresh = match url.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{name}"),
        None => panic!("{url} has no database name"),
    };
    let parsed = DatabaseUrl::parse(&fresh).unwrap();
    let (a, b, c) = tokio::join!(Db::connect(&parsed), Db::connect(&parsed), Db::connect(&parsed));
    for db in [a, b, c] {
        let db = db.expect("every instance starts");
        assert!(db.ping().await);
        db.close().await;
    }
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)")).execute(&admin).await.unwrap();
    // The database's role outlives it (roles are cluster-wide).
    sqlx::query(&format!("DROP ROLE doable_app_{name}")).execute(&admin).await.unwrap();
}

/// The `DATABASE_URL` user need not be a superuser: an owner with
/// CREATEROLE (what Neon gives) migrates, and the app then works as the
/// database's own role, under the policies.
#[tokio::test]
async fn an_owner_that_is_not_a_superuser_migrates_and_serves() {
    let Some(url) = postgres_url() else { return };
    let admin = sqlx::PgPool::connect(&url).await.unwrap();
    let suffix = uuid::Uuid::new_v4().simple();
    let (owner, name) = (format!("doable_owner_{suffix}"), format!("doable_owned_{suffix}"));
    for sql in [format!("CREATE ROLE {owner} LOGIN CREATEROLE"), format!("CREATE DATABASE {name} OWNER {owner}")] {
        sqlx::query(&sql).execute(&admin).await.unwrap();
    }
    let host = url.split_once('@').and_then(|(_, rest)| rest.split('/').next()).expect("postgres://user@host/db");
    let owned = format!("postgres://{owner}@{host}/{name}");

    let app = TestApp::boot(Backend::Postgres, tempfile::tempdir().unwrap(), &owned, &[]).await;
    let browser = app.signed_in().await;
    browser.create_task("Owned by an ordinary role").await;
    assert!(browser.get("/tasks").await.body.contains("Owned by an ordinary role"));
    let Db::Postgres(pool) = &app.db else { unreachable!() };
    let role: String = sqlx::query_scalar("SELECT current_user::text").fetch_one(pool).await.unwrap();
    assert_eq!(role, format!("doable_app_{name}"));
    app.db.close().await;
    app.unrestricted.close().await;

    for sql in [
        format!("DROP DATABASE {name} WITH (FORCE)"),
        format!("DROP ROLE doable_app_{name}"),
        format!("DROP ROLE {owner}"),
    ] {
        sqlx::query(&sql).execute(&admin).await.unwrap();
    }
}

/// Managed hosting often gives a database owner that may not create roles.
/// Without a choice doable exits 2 with one line naming the privilege and
/// both ways out; with a role a DBA made (`DATABASE_APP_ROLE`) it migrates
/// and serves under the policies; with `DATABASE_ROW_LEVEL_SECURITY=off` it
/// serves without them, and says so in `/readyz`.
#[tokio::test]
async fn an_owner_that_may_not_create_roles_has_two_documented_ways_to_run() {
    let Some(url) = postgres_url() else { return };
    let admin = sqlx::PgPool::connect(&url).await.unwrap();
    let suffix = uuid::Uuid::new_v4().simple();
    let owner = format!("doable_plain_{suffix}");
    let (with_role, without_rls) = (format!("doable_dba_{suffix}"), format!("doable_norls_{suffix}"));
    let app_role = format!("doable_made_by_dba_{suffix}");
    for sql in [
        format!("CREATE ROLE {owner} LOGIN NOCREATEROLE"),
        format!("CREATE DATABASE {with_role} OWNER {owner}"),
        format!("CREATE DATABASE {without_rls} OWNER {owner}"),
    ] {
        sqlx::query(&sql).execute(&admin).await.unwrap();
    }
    let host = url.split_once('@').and_then(|(_, rest)| rest.split('/').next()).expect("postgres://user@host/db");
    let url_of = |db: &str| format!("postgres://{owner}@{host}/{db}");

    // Neither: exit 2, one line, the privilege and both ways out.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_doable"))
        .current_dir(tempfile::tempdir().unwrap().path())
        .env_clear()
        .env("DATABASE_URL", url_of(&with_role))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    for needle in ["CREATEROLE", "DATABASE_APP_ROLE", "DATABASE_ROW_LEVEL_SECURITY=off"] {
        assert!(stderr.contains(needle), "names {needle}: {stderr}");
    }

    // A role a DBA made and granted: row-level security as usual.
    for sql in [format!("CREATE ROLE {app_role} NOLOGIN"), format!("GRANT {app_role} TO {owner}")] {
        sqlx::query(&sql).execute(&admin).await.unwrap();
    }
    let app = TestApp::boot(
        Backend::Postgres,
        tempfile::tempdir().unwrap(),
        &url_of(&with_role),
        &[("DATABASE_APP_ROLE", &app_role)],
    )
    .await;
    let browser = app.signed_in().await;
    browser.create_task("Kept apart by the policies").await;
    let ready = browser.get("/readyz").await;
    assert_eq!(ready.status, StatusCode::OK);
    assert!(ready.body.contains("row-level security on") && ready.body.contains(&app_role), "{}", ready.body);
    let Db::Postgres(pool) = &app.db else { unreachable!() };
    let role: String = sqlx::query_scalar("SELECT current_user::text").fetch_one(pool).await.unwrap();
    assert_eq!(role, app_role);
    let unnamed: i64 = sqlx::query_scalar("SELECT count(*) FROM tasks").fetch_one(pool).await.unwrap();
    assert_eq!(unnamed, 0, "no user named, no rows: the policies apply");
    app.db.close().await;
    app.unrestricted.close().await;

    // Row-level security off, said so.
    let app = TestApp::boot(
        Backend::Postgres,
        tempfile::tempdir().unwrap(),
        &url_of(&without_rls),
        &[("DATABASE_ROW_LEVEL_SECURITY", "off")],
    )
    .await;
    let browser = app.signed_in().await;
    browser.create_task("Kept apart by the filters").await;
    assert!(browser.get("/tasks").await.body.contains("Kept apart by the filters"));
    let other = app.signed_in().await;
    assert!(!other.get("/tasks").await.body.contains("Kept apart by the filters"));
    let ready = browser.get("/readyz").await;
    assert!(ready.body.contains("row-level security off"), "{}", ready.body);
    app.db.close().await;
    app.unrestricted.close().await;
    // The same database started without the setting is refused, not quietly
    // served in another mode.
    let refused = Db::connect(&DatabaseUrl::parse(&url_of(&without_rls)).unwrap()).await;
    let Err(refused) = refused else { panic!("started without its setting") };
    let message = refused.to_string();
    assert!(message.contains("DATABASE_ROW_LEVEL_SECURITY"), "{message}");

    for sql in [
        format!("DROP DATABASE {with_role} WITH (FORCE)"),
        format!("DROP DATABASE {without_rls} WITH (FORCE)"),
        format!("DROP ROLE {app_role}"),
        format!("DROP ROLE {owner}"),
    ] {
        sqlx::query(&sql).execute(&admin).await.unwrap();
    }
}

/// Databases migrated before 0003 read its settings recorded the old text's
/// checksum; they start as before (the migration did the same with the
/// settings unset).
#[tokio::test]
async fn a_database_migrated_by_the_first_release_of_0003_still_starts() {
    let Some(url) = postgres_url() else { return };
    let admin = sqlx::PgPool::connect(&url).await.unwrap();
    let name = format!("doable_old3_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await.unwrap();
    let fresh = format!("{}/{name}", url.rsplit_once('/').unwrap().0);
    let parsed = DatabaseUrl::parse(&fresh).unwrap();
    Db::connect(&parsed).await.unwrap().close().await;
    let owner = sqlx::PgPool::connect(&fresh).await.unwrap();
    let old = "531078eddc0f37da82b49384d3a2076b70f7f1cd6f848c75cce1d86f06661e2038cb1da069f36c256278a031740c09a0";
    sqlx::query("UPDATE _sqlx_migrations SET checksum = decode($1, 'hex') WHERE version = 3")
        .bind(old)
        .execute(&owner)
        .await
        .unwrap();
    let db = Db::connect(&parsed).await.expect("starts");
    assert!(db.ping().await);
    db.close().await;
    owner.close().await;
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)")).execute(&admin).await.unwrap();
    sqlx::query(&format!("DROP ROLE doable_app_{name}")).execute(&admin).await.unwrap();
}

/// A database renamed (or restored under another name) still names its
/// original's role, which another database may use: doable refuses it.
#[tokio::test]
async fn a_database_under_another_name_than_its_roles_is_refused() {
    let Some(url) = postgres_url() else { return };
    let admin = sqlx::PgPool::connect(&url).await.unwrap();
    let suffix = uuid::Uuid::new_v4().simple();
    let (original, renamed) = (format!("doable_original_{suffix}"), format!("doable_renamed_{suffix}"));
    sqlx::query(&format!("CREATE DATABASE {original}")).execute(&admin).await.unwrap();
    let at = |name: &str| DatabaseUrl::parse(&format!("{}/{name}", url.rsplit_once('/').unwrap().0)).unwrap();
    Db::connect(&at(&original)).await.expect("migrates").close().await;
    sqlx::query(&format!("ALTER DATABASE {original} RENAME TO {renamed}")).execute(&admin).await.unwrap();

    let refused = Db::connect(&at(&renamed)).await.expect_err("refused");
    let message = doable::StartError::from(refused).to_string();
    assert!(message.contains(&format!("uses the role doable_app_{original}, made for another database")), "{message}");

    sqlx::query(&format!("DROP DATABASE {renamed} WITH (FORCE)")).execute(&admin).await.unwrap();
    sqlx::query(&format!("DROP ROLE doable_app_{original}")).execute(&admin).await.unwrap();
}

/// A TCP proxy to PostgreSQL that the test can cut and restore.
struct Proxy {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (up2, links2) = (up.clone(), links.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else { return };
                if !up2.load(Ordering::SeqCst) {
                    continue; // dropped: the connection is refused
                }
                links2.lock().await.push(tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                }));
            }
        });
        Proxy { addr, up, links }
    }

    async fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for link in self.links.lock().await.drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn a_database_outage_is_a_friendly_503_and_recovery_needs_no_restart() {
    let Some(url) = postgres_url() else { return };
    let proxy = Proxy::start(server_of(&url).await).await;
    let app = boot_through(&url, proxy.addr, "", &[("DATABASE_ACQUIRE_TIMEOUT_SECONDS", "1")]).await;
    let browser = app.signed_in().await;
    assert_eq!(browser.get("/tasks").await.status, StatusCode::OK);

    proxy.cut().await;
    let ready = browser.get("/readyz").await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    let page = browser.get("/tasks").await;
    assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(page.body.contains("briefly unavailable"), "{}", page.body);
    assert_eq!(browser.get("/healthz").await.status, StatusCode::OK, "the process keeps serving");

    proxy.restore();
    let mut recovered = false;
    for _ in 0..50 {
        if browser.get("/readyz").await.status == StatusCode::OK {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "readyz recovers without a restart");
    assert_eq!(browser.get("/tasks").await.status, StatusCode::OK, "and so do pages, same session");
}

/// A throwaway PostgreSQL server that accepts only TLS connections, with a
/// self-signed certificate made for it. Stopped when dropped.
struct TlsOnlyServer {
    dir: tempfile::TempDir,
    pg_ctl: std::path::PathBuf,
    port: u16,
}

impl Drop for TlsOnlyServer {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let _ = std::process::Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(&self.pg_ctl)
            .args(["-D", data.to_str().unwrap(), "-m", "immediate", "stop"])
            .output();
    }
}

fn run(command: &mut std::process::Command) {
    let output = command.output().unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(output.status.success(), "{command:?}: {}", String::from_utf8_lossy(&output.stderr));
}

impl TlsOnlyServer {
    /// `None` (with the reason) where PostgreSQL's server binaries or root are missing.
    fn start() -> Result<TlsOnlyServer, String> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .map_err(|_| "no /usr/lib/postgresql".to_string())?
            .filter_map(Result::ok)
            .map(|entry| entry.path().join("bin"))
            .find(|bin| bin.join("initdb").exists())
            .ok_or("no initdb under /usr/lib/postgresql")?;
        let whoami = std::process::Command::new("id").arg("-u").output().map_err(|e| e.to_string())?;
        if String::from_utf8_lossy(&whoami.stdout).trim() != "0" {
            return Err("starting a PostgreSQL server as the postgres user needs root".into());
        }
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let data = dir.path().join("data");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        run(std::process::Command::new("chown").args(["postgres:postgres", dir.path().to_str().unwrap()]));
        run(std::process::Command::new("runuser").args(["-u", "postgres", "--"]).arg(bin.join("initdb")).args([
            "-D",
            data.to_str().unwrap(),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
        ]));
        run(std::process::Command::new("openssl").args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
            data.join("server.key").to_str().unwrap(),
            "-out",
            data.join("server.crt").to_str().unwrap(),
        ]));
        run(std::process::Command::new("chown").args([
            "postgres:postgres",
            data.join("server.key").to_str().unwrap(),
            data.join("server.crt").to_str().unwrap(),
        ]));
        run(std::process::Command::new("chmod").args(["600", data.join("server.key").to_str().unwrap()]));
        let conf = format!(
            "\nssl = on\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\nfsync = off\n",
            dir.path().display()
        );
        std::fs::OpenOptions::new()
            .append(true)
            .open(data.join("postgresql.conf"))
            .and_then(|mut f| std::io::Write::write_all(&mut f, conf.as_bytes()))
            .map_err(|e| e.to_string())?;
        // TLS only: no plain `host` line at all.
        std::fs::write(data.join("pg_hba.conf"), "local all all trust\nhostssl all all 127.0.0.1/32 trust\n")
            .map_err(|e| e.to_string())?;
        let pg_ctl = bin.join("pg_ctl");
        let server = TlsOnlyServer { dir, pg_ctl: pg_ctl.clone(), port };
        let log = server.dir.path().join("log");
        run(std::process::Command::new("runuser").args(["-u", "postgres", "--"]).arg(&pg_ctl).args([
            "-D",
            data.to_str().unwrap(),
            "-l",
            log.to_str().unwrap(),
            "-w",
            "start",
        ]));
        Ok(server)
    }
}

#[tokio::test]
async fn sslmode_require_connects_over_tls_and_a_tls_only_server_refuses_plain_connections() {
    if postgres_url().is_none() {
        return;
    }
    let server = match TlsOnlyServer::start() {
        Ok(server) => server,
        Err(why) if std::env::var("DOABLE_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") => panic!("{why}"),
        Err(why) => return eprintln!("skipped: {why}"),
    };
    let url = |mode: &str| format!("postgres://postgres@127.0.0.1:{}/postgres?sslmode={mode}", server.port);

    let db = Db::connect(&DatabaseUrl::parse(&url("require")).unwrap()).await.expect("sslmode=require connects");
    let Db::Postgres(pool) = &db else { unreachable!() };
    // Back to the login role on one of the app's connections: the app's
    // role may not see the login's statistics. Then drop that connection.
    let mut conn = pool.acquire().await.unwrap();
    sqlx::query("RESET ROLE").execute(&mut *conn).await.unwrap();
    let (ssl,): (bool,) =
        sqlx::query_as("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetch_one(&mut *conn).await.unwrap();
    assert!(ssl, "the connection is encrypted");
    drop(conn.detach());
    db.close().await;

    let refused = Db::connect(&DatabaseUrl::parse(&url("disable")).unwrap()).await.expect_err("plain text refused");
    let message = doable::StartError::from(refused).to_string();
    assert!(message.starts_with("DATABASE_URL: cannot open the database"), "{message}");
    assert!(message.contains("no encryption") || message.contains("pg_hba.conf"), "a clear reason: {message}");
}

/// Rows both schemas must accept, and rows both must refuse (the contract's
/// lengths and types), run against each backend's migrated schema.
#[tokio::test]
async fn both_schemas_accept_and_reject_the_same_rows() {
    let Some(url) = postgres_url() else { return };
    let sqlite_dir = tempfile::tempdir().unwrap();
    let sqlite = Db::connect(&DatabaseUrl::parse(&format!("sqlite://{}/s.db", sqlite_dir.path().display())).unwrap())
        .await
        .unwrap();
    // Migrated by the app's connect; written to as the owner, since the
    // app's own role may write tasks only for the user it acts for.
    Db::connect(&DatabaseUrl::parse(&url).unwrap()).await.unwrap().close().await;
    let postgres = unrestricted(&url);

    for db in [&sqlite, &postgres] {
        let user = uuid::Uuid::new_v4();
        let now = time::OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
        let email = |local: &str| format!("{local}-{}@example.com", user.simple());
        let insert_user = |id: uuid::Uuid, email: String, name: Option<String>| {
            let sql = "INSERT INTO users (id, email, name, password_hash, is_active, created_at, updated_at)
                       VALUES ($1, $2, $3, 'x', $4, $5, $6)";
            async move {
                doable::on_pool!(db, pool => {
                    sqlx::query(sql).bind(id).bind(email).bind(name).bind(true).bind(now).bind(now).execute(pool).await.map(|_| ())
                })
            }
        };
        let insert_task = |owner: uuid::Uuid, title: String, description: Option<String>| {
            let sql = "INSERT INTO tasks (user_id, title, description, title_folded, completed, created_at, updated_at)
                       VALUES ($1, $2, $3, $4, $5, $6, $7)";
            async move {
                let folded = title.to_lowercase();
                doable::on_pool!(db, pool => {
                    sqlx::query(sql)
                        .bind(owner)
                        .bind(title)
                        .bind(description)
                        .bind(folded)
                        .bind(false)
                        .bind(now)
                        .bind(now)
                        .execute(pool)
                        .await
                        .map(|_| ())
                })
            }
        };

        assert!(insert_user(user, email("ok"), Some("n".repeat(100))).await.is_ok());
        assert!(insert_user(uuid::Uuid::new_v4(), email("ok"), None).await.is_err(), "duplicate email");
        assert!(insert_user(uuid::Uuid::new_v4(), email("long-name"), Some("n".repeat(101))).await.is_err());
        assert!(
            insert_user(uuid::Uuid::new_v4(), format!("{}@x.io", "e".repeat(250)), None).await.is_err(),
            "email over 254"
        );

        assert!(insert_task(user, "ü".repeat(255), Some("d".repeat(10_000))).await.is_ok(), "lengths count characters");
        assert!(insert_task(user, "t".repeat(256), None).await.is_err(), "title over 255");
        assert!(insert_task(user, String::new(), None).await.is_err(), "empty title");
        assert!(insert_task(user, "t".into(), Some("d".repeat(10_001))).await.is_err(), "description over 10,000");
        assert!(insert_task(uuid::Uuid::new_v4(), "orphan".into(), None).await.is_err(), "owner must exist");

        // Deleting the user takes the tasks along (ON DELETE CASCADE).
        let (sql, count) = ("DELETE FROM users WHERE id = $1", "SELECT count(*) FROM tasks WHERE user_id = $1");
        let left: (i64,) = doable::on_pool!(db, pool => {
            sqlx::query(sql).bind(user).execute(pool).await.unwrap();
            sqlx::query_as(count).bind(user).fetch_one(pool).await.unwrap()
        });
        assert_eq!(left.0, 0);
    }
}

#[tokio::test]
async fn throttling_holds_across_instances() {
    let Some(url) = postgres_url() else { return };
    let settings = [("RATE_LIMIT_SIGNIN_PER_ACCOUNT", "2/15m")];
    let one = TestApp::boot(Backend::Postgres, tempfile::tempdir().unwrap(), &url, &settings).await;
    let two = TestApp::boot(Backend::Postgres, tempfile::tempdir().unwrap(), &url, &settings).await;
    let email = unique_email();
    one.browser().sign_up(&email, PASSWORD).await;
    assert_eq!(one.browser().sign_in(&email, "wrong one").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(two.browser().sign_in(&email, "wrong two").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(one.browser().sign_in(&email, PASSWORD).await.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(two.browser().sign_in(&email, PASSWORD).await.status, StatusCode::TOO_MANY_REQUESTS);
}

/// The throttle's count is atomic across instances too: 120 wrong guesses
/// at once, split over three instances on one database, get at most the
/// limit of verdicts between them.
#[tokio::test]
async fn concurrent_guesses_across_instances_get_at_most_the_limit_of_verdicts() {
    let Some(url) = postgres_url() else { return };
    let settings = [("RATE_LIMIT_SIGNIN_PER_ACCOUNT", "10/15m")];
    let mut instances = Vec::new();
    for _ in 0..3 {
        instances.push(TestApp::boot(Backend::Postgres, tempfile::tempdir().unwrap(), &url, &settings).await);
    }
    let email = unique_email();
    instances[0].browser().sign_up(&email, PASSWORD).await;
    let client = reqwest::Client::new();
    let guesses = (0..120).map(|i| {
        let url = format!("{}/api/v1/auth/token", instances[i % 3].base);
        let body = serde_json::json!({"email": email, "password": format!("wrong guess {i}")});
        let client = client.clone();
        async move { client.post(url).json(&body).send().await.unwrap().status() }
    });
    let statuses = futures::future::join_all(guesses).await;
    let verdicts = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    assert!(verdicts <= 10, "{verdicts} verdicts: {statuses:?}");
    assert!(statuses.iter().all(|s| matches!(s.as_u16(), 401 | 429 | 503)), "{statuses:?}");
}

/// Tables that hold a user's rows (a `user_id` column, or a reference to
/// users or sessions) but are read before anyone is signed in, so they can
/// have no policy; each with the reason. Anything else must have one.
const USER_TABLES_WITHOUT_POLICY: [(&str, &str); 1] =
    [("password_resets", "a reset link is found by its token hash before anyone is signed in")];

/// Read from the catalogue, not from a hand-kept list: a new table that
/// holds a user's rows fails this until it has row-level security and a
/// policy (or a reason above).
#[tokio::test]
async fn every_table_holding_a_users_rows_has_row_level_security_and_a_policy() {
    let Some(_) = postgres_url() else { return };
    let app = TestApp::spawn(Backend::Postgres).await.unwrap();
    let Db::Postgres(owner) = &app.unrestricted else { unreachable!() };
    let tables: Vec<(String, bool, bool)> = sqlx::query_as(
        "SELECT c.relname::text, c.relrowsecurity,
                EXISTS (SELECT FROM pg_policy p WHERE p.polrelid = c.oid)
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relname <> 'users'
           AND (EXISTS (SELECT FROM pg_attribute a
                        WHERE a.attrelid = c.oid AND a.attname = 'user_id' AND NOT a.attisdropped)
                OR EXISTS (SELECT FROM pg_constraint f
                           WHERE f.conrelid = c.oid AND f.contype = 'f'
                             AND f.confrelid IN ('users'::regclass, 'sessions'::regclass)))
         ORDER BY 1",
    )
    .fetch_all(owner)
    .await
    .unwrap();
    let names: Vec<&str> = tables.iter().map(|(name, ..)| name.as_str()).collect();
    for expected in ["tasks", "lists", "labels", "task_labels", "sessions", "spent_refresh_tokens", "security_events"] {
        assert!(names.contains(&expected), "the query finds {expected}: {names:?}");
    }
    for (table, secured, has_policy) in &tables {
        if USER_TABLES_WITHOUT_POLICY.iter().any(|(exempt, _)| exempt == table) {
            continue;
        }
        assert!(*secured && *has_policy, "{table} holds users' rows but has no row-level security and policy");
    }
}

/// Row-level security: the app's pool works as a role that owns no table and
/// sees a user's tasks, sessions and security events only inside a
/// transaction that names that user. So a statement with no owner filter at
/// all, the bug this is here to contain, still touches nobody else's rows.
#[tokio::test]
async fn a_statement_without_an_owner_filter_reaches_only_the_named_users_rows() {
    let Some(_) = postgres_url() else { return };
    let app = TestApp::spawn(Backend::Postgres).await.unwrap();
    let (alice_email, bob_email) = (unique_email(), unique_email());
    let alice = app.browser();
    alice.sign_up(&alice_email, PASSWORD).await;
    alice.get("/tasks").await;
    let labelled = alice.post("/tasks", &[("title", "Plan of Alice"), ("labels", "plans")]).await;
    assert_eq!(labelled.status, StatusCode::SEE_OTHER, "a task with a label, so labels and task_labels have rows");
    let bob = app.browser();
    bob.sign_up(&bob_email, PASSWORD).await;
    bob.get("/tasks").await;
    assert_eq!(
        bob.post("/tasks", &[("title", "Plan of Bob"), ("labels", "plans")]).await.status,
        StatusCode::SEE_OTHER
    );
    let bobs_task = *bob.get("/tasks").await.task_ids().first().unwrap();
    // A refresh token spent through the API, so spent_refresh_tokens has a row.
    let (api, pair) = crate::api::Api::signed_up(&app).await;
    let refreshed = api.post("/auth/refresh", serde_json::json!({"refresh_token": pair["refresh_token"]})).await;
    assert_eq!(refreshed.status, StatusCode::OK);

    let (Db::Postgres(pool), Db::Postgres(owner)) = (&app.db, &app.unrestricted) else { unreachable!() };
    let id_of = |email: String| async move {
        sqlx::query_scalar::<_, uuid::Uuid>("SELECT id FROM users WHERE email = $1")
            .bind(email)
            .fetch_one(owner)
            .await
            .unwrap()
    };
    let (alice_id, bob_id) = (id_of(alice_email).await, id_of(bob_email).await);

    // The pool's role owns no table and cannot skip the policies.
    let (role, tasks_owner, bypasses): (String, String, bool) = sqlx::query_as(
        "SELECT current_user::text, (SELECT tableowner::text FROM pg_tables WHERE tablename = 'tasks'),
                (SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user)",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert!(role.starts_with("doable_app_"), "{role}");
    assert_ne!(tasks_owner, role);
    assert!(!bypasses);
    assert!(sqlx::query("SELECT * FROM _sqlx_migrations").fetch_all(pool).await.is_err(), "owner's bookkeeping");

    let tables = ["tasks", "lists", "labels", "task_labels", "sessions", "spent_refresh_tokens", "security_events"];
    for table in tables {
        let count = |pool| async move {
            let sql = format!("SELECT count(*) FROM {table}");
            sqlx::query_scalar::<_, i64>(&sql).fetch_one(pool).await.unwrap()
        };
        assert!(count(owner).await > 0, "{table} has rows");
        assert_eq!(count(pool).await, 0, "{table}: no user named, no rows");
    }

    // In Alice's transaction, unfiltered statements reach Alice's rows only.
    let as_alice = || async {
        let mut tx = pool.begin().await.unwrap();
        sqlx::query("SELECT set_config('app.user_id', $1, true)")
            .bind(alice_id.to_string())
            .execute(&mut *tx)
            .await
            .unwrap();
        tx
    };
    let mut tx = as_alice().await;
    let titles: Vec<String> = sqlx::query_scalar("SELECT title FROM tasks").fetch_all(&mut *tx).await.unwrap();
    assert_eq!(titles, ["Plan of Alice"]);
    for table in tables {
        let sql = format!("SELECT count(*) FROM {table} WHERE NOT {}", owned_by(table));
        let others: i64 = sqlx::query_scalar(&sql).bind(alice_id).fetch_one(&mut *tx).await.unwrap();
        assert_eq!(others, 0, "{table}: nobody else's rows");
    }
    let (alices_tasks, alices_sessions) = (1, 1);
    let updated = sqlx::query("UPDATE tasks SET title = 'Overwritten'").execute(&mut *tx).await.unwrap();
    assert_eq!(updated.rows_affected(), alices_tasks);
    let deleted = sqlx::query("DELETE FROM sessions").execute(&mut *tx).await.unwrap();
    assert_eq!(deleted.rows_affected(), alices_sessions);
    tx.commit().await.unwrap();

    let mut tx = as_alice().await;
    let planted = sqlx::query(
        "INSERT INTO tasks (user_id, title, title_folded, completed, created_at, updated_at)
         VALUES ($1, 'planted', 'planted', false, now(), now())",
    )
    .bind(bob_id)
    .execute(&mut *tx)
    .await
    .expect_err("a row for someone else is refused");
    let code = planted.as_database_error().and_then(|e| e.code()).unwrap_or_default().into_owned();
    assert_eq!(code, "42501", "refused by the policy: {planted}");
    drop(tx);

    // The committed statements reached Alice's rows and no one else's.
    assert_eq!(alice.get("/tasks").await.status, StatusCode::SEE_OTHER, "Alice's session is gone");
    let page = bob.get("/tasks").await;
    assert_eq!(page.status, StatusCode::OK, "Bob is still signed in");
    assert!(page.body.contains("Plan of Bob"), "Bob's title unchanged");
    assert_eq!(bob.get(&format!("/tasks/{bobs_task}/edit")).await.status, StatusCode::OK);
}

/// The predicate that says a row of `table` is the user `$1`'s.
fn owned_by(table: &str) -> &'static str {
    match table {
        "spent_refresh_tokens" => "(session_id IN (SELECT id FROM sessions WHERE user_id = $1))",
        "tasks" => "(tasks.user_id = $1)",
        "lists" => "(lists.user_id = $1)",
        "labels" => "(labels.user_id = $1)",
        "task_labels" => "(task_labels.user_id = $1)",
        "sessions" => "(sessions.user_id = $1)",
        _ => "(security_events.user_id = $1)",
    }
}

/// The statements every request makes can be answered from an index: with
/// sequential scans priced out (`enable_seqscan = off`, so the table's size
/// does not decide), PostgreSQL's plan for each names no `Seq Scan`. A query
/// whose index is missing or does not match its filter and order fails here.
/// They are planned as the app runs them: as its role, `app.user_id` set,
/// under the policies, where only leakproof conditions can search an index
/// (decision 0022); where a filter is the point, its column must be one the
/// index is searched by (`Index Cond`), not a filter over all the owner's
/// rows (checked where no other plan is sound). Statements made for no one user (the sign-in lookup, the throttle,
/// the refresh token, the purges) are planned as the tables' owner, as they
/// run. (The shapes are those `db/` sends; the task list's are the first
/// page, a filter and a cursor.)
#[tokio::test]
async fn every_hot_query_is_answered_from_an_index() {
    let Some(_) = postgres_url() else { return };
    let app = TestApp::spawn(Backend::Postgres).await.unwrap();
    let Db::Postgres(owner) = &app.unrestricted else { unreachable!() };
    let (user, now) = (uuid::Uuid::new_v4(), time::OffsetDateTime::now_utc());
    let columns = "id, title, description, completed, completed_at, due_date, created_at, updated_at";
    let hot: Vec<(&str, String)> = vec![
        ("session check", "SELECT u.id AS user_id, u.email, u.name
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL AND s.expires_at > $3 AND u.is_active"
            .into()),
        ("first page", format!("SELECT {columns} FROM tasks WHERE user_id = $1 AND deleted_at IS NULL ORDER BY id DESC LIMIT $2")),
        ("active page", format!(
            "SELECT {columns} FROM tasks WHERE user_id = $1 AND deleted_at IS NULL AND completed = $2 ORDER BY id DESC LIMIT $3"
        )),
        ("next page", format!(
            "SELECT {columns} FROM tasks WHERE user_id = $1 AND deleted_at IS NULL AND id < $2 ORDER BY id DESC LIMIT $3"
        )),
        ("counts", "SELECT active, completed FROM task_counts WHERE user_id = $1".into()),
        ("list page", format!(
            "SELECT {columns} FROM tasks WHERE user_id = $1 AND deleted_at IS NULL AND list_id = $2 ORDER BY id DESC LIMIT $3"
        )),
        ("priority page", format!(
            "SELECT {columns} FROM tasks WHERE user_id = $1 AND deleted_at IS NULL
               AND (coalesce(priority, 5) > $2 OR (coalesce(priority, 5) = $3 AND id < $4))
             ORDER BY coalesce(priority, 5) ASC, id DESC LIMIT $5"
        )),
        ("due page", format!(
            "SELECT {columns} FROM tasks WHERE user_id = $1 AND deleted_at IS NULL
             ORDER BY coalesce(due_date, DATE '9999-12-31') ASC, id DESC LIMIT $2"
        )),
        // The navigation's Today and Upcoming counts, in the page's statement.
        ("upcoming count", "SELECT count(*) FROM tasks WHERE user_id = $1 AND deleted_at IS NULL AND NOT completed
             AND due_date <= $2 AND due_date >= $3".into()),
        ("lists", "SELECT id, name FROM lists WHERE user_id = $1 ORDER BY is_inbox DESC, archived, name_folded, id".into()),
        // Manual order: a list's page, its top (where a new task goes), a move's neighbour.
        ("manual page", format!(
            "SELECT {columns} FROM tasks WHERE user_id = $1 AND deleted_at IS NULL AND list_id = $2
             ORDER BY position ASC, id DESC LIMIT $3"
        )),
        ("top of a list", "SELECT coalesce(min(position), 0) - 1 FROM tasks WHERE user_id = $1 AND list_id = $2".into()),
        ("neighbour", "SELECT id, position FROM tasks WHERE user_id = $1 AND list_id = $2 AND deleted_at IS NULL
             AND id <> $3 AND (position < $4 OR (position = $5 AND id > $6)) ORDER BY position DESC, id ASC LIMIT 1".into()),
        // A label filter and a label's count (db::labels).
        ("label page", format!(
            "SELECT {columns} FROM tasks WHERE user_id = $1 AND deleted_at IS NULL
               AND id IN (SELECT tl.task_id FROM task_labels tl
                          WHERE tl.label_id = (SELECT id FROM labels WHERE user_id = $2 AND name_folded = $3))
             ORDER BY id DESC LIMIT $4"
        )),
        ("label counts", "SELECT id, (SELECT count(*) FROM task_labels tl JOIN tasks t ON t.id = tl.task_id
             WHERE tl.label_id = labels.id AND t.deleted_at IS NULL) FROM labels WHERE user_id = $1
             ORDER BY name_folded, id".into()),
        // Subtasks: a task's (its view, and the key's cascade), a list's
        // tasks without theirs, each with its progress and parent, as a page reads them.
        ("subtasks page", format!(
            "SELECT {columns} FROM tasks WHERE user_id = $1 AND deleted_at IS NULL AND parent_id = $2
             ORDER BY id DESC LIMIT $3"
        )),
        ("top-level page with progress", format!(
            "SELECT {columns},
                (SELECT count(*) FROM tasks s WHERE s.user_id = tasks.user_id AND s.parent_id = tasks.id
                   AND s.deleted_at IS NULL AND s.completed) AS subtasks_done,
                (SELECT p.title FROM tasks p WHERE p.user_id = tasks.user_id AND p.id = tasks.parent_id) AS parent_title
             FROM tasks WHERE user_id = $1 AND deleted_at IS NULL AND list_id = $2 AND parent_id IS NULL
             ORDER BY id DESC LIMIT $3"
        )),
        // db::tasks::list_checked: the session check, the counts and the page in one.
        ("checked page", format!(
            "SELECT me.email AS me_email, me.name AS me_name, c.active AS me_active, c.completed AS me_completed, t.*
             FROM (SELECT u.email, u.name FROM sessions s JOIN users u ON u.id = s.user_id
                   WHERE s.id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL AND s.expires_at > $3 AND u.is_active) AS me
             LEFT JOIN task_counts c ON c.user_id = $4
             LEFT JOIN (SELECT {columns} FROM tasks WHERE user_id = $5 AND deleted_at IS NULL ORDER BY id DESC LIMIT $6) AS t
             ON 1 = 1 ORDER BY t.id DESC"
        )),
        ("sign-in lookup", "SELECT id, password_hash, is_active FROM users WHERE email = $1".into()),
        ("throttle count", "SELECT count(*), min(created_at) FROM throttle_events WHERE bucket = $1 AND created_at > $2".into()),
        ("recent activity", "SELECT event, ip, user_agent, created_at FROM security_events WHERE user_id = $1 ORDER BY id DESC LIMIT $2".into()),
        ("refresh token", "SELECT id, user_id FROM sessions WHERE refresh_hash = $1".into()),
        // The hourly purge's batches (db::housekeeping, migration 0010), over tables of millions at scale.
        ("purge expired sessions", "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE expires_at < $1 LIMIT $2)".into()),
        ("purge revoked sessions", "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE revoked_at IS NOT NULL LIMIT $1)".into()),
        ("purge deleted tasks", "DELETE FROM tasks WHERE id IN (
             SELECT id FROM tasks WHERE deleted_at IS NOT NULL AND deleted_at < $1 LIMIT $2)".into()),
        ("purge security events", "DELETE FROM security_events WHERE id IN (
             SELECT id FROM security_events WHERE created_at < $1 LIMIT $2)".into()),
        ("purge throttle events", "DELETE FROM throttle_events WHERE id IN (
             SELECT id FROM throttle_events WHERE created_at < $1 LIMIT $2)".into()),
        ("purge reset links", "DELETE FROM password_resets WHERE token_hash IN (
             SELECT token_hash FROM password_resets WHERE expires_at < $1 LIMIT $2)".into()),
        ("purge sign-up requests", "DELETE FROM signup_requests WHERE token_hash IN (
             SELECT token_hash FROM signup_requests WHERE expires_at < $1 LIMIT $2)".into()),
    ];
    // The column a plan must search its index by, where the filter is the point and no
    // other plan is sound: a page in id order may rightly walk the owner's `(user_id, id)`
    // and filter, as it stops after 51 rows; a count cannot (decision 0022).
    let key_column = |name: &str| match name {
        "upcoming count" => Some("due_date"),
        _ => None,
    };
    let for_no_user =
        |name: &str| matches!(name, "sign-in lookup" | "throttle count" | "refresh token") || name.starts_with("purge");
    for as_the_app in [true, false] {
        let mut tx = owner.acquire().await.unwrap();
        if as_the_app {
            // The transaction the app opens for a user's reads: its role,
            // the user named, and generic plans (decision 0026), made once
            // per statement with the parameters unknown.
            tx.execute(&*app.db.for_user(user).postgres_begin(true)).await.unwrap();
            let (role, plans): (String, String) =
                sqlx::query_as("SELECT current_user::text, current_setting('plan_cache_mode')")
                    .fetch_one(&mut *tx)
                    .await
                    .unwrap();
            assert!(role.starts_with("doable_app"), "planned as the app's role, not {role}");
            assert_eq!(plans, "force_generic_plan");
        } else {
            // Statements for no user, the purge's among them, keep the
            // server's choice: their plans depend on the cutoff's value.
            tx.execute("BEGIN").await.unwrap();
        }
        sqlx::query("SET LOCAL enable_seqscan = off").execute(&mut *tx).await.unwrap();
        for (name, sql) in hot.iter().filter(|(name, _)| for_no_user(name) != as_the_app) {
            let plan = explain(&mut tx, name, sql, user, now).await;
            assert!(!plan.to_string().contains("Seq Scan"), "{name} scans a whole table: {plan}");
            // A generic plan searches by parameters ($1), a custom one by values.
            let searched = index_conditions(&plan);
            let generic = searched.iter().any(|condition| condition.contains('$'));
            assert_eq!(generic, as_the_app, "{name}: generic plan {generic}, searching {searched:?}");
            if let Some(column) = key_column(name) {
                assert!(
                    searched.iter().any(|condition| condition.contains(column)),
                    "{name} does not search its index by {column}: {searched:?} in {plan}"
                );
            }
        }
        tx.execute("ROLLBACK").await.unwrap();
    }
}

/// The plan of one of `every_hot_query_is_answered_from_an_index`'s
/// statements, prepared as the app prepares it (so under the transaction's
/// `plan_cache_mode`) and executed with its parameters. (`EXPLAIN EXECUTE`
/// takes them as SQL: it cannot see a bound parameter.)
async fn explain(
    tx: &mut sqlx::PgConnection,
    name: &str,
    sql: &str,
    user: uuid::Uuid,
    now: time::OffsetDateTime,
) -> serde_json::Value {
    let (someone, at, day) = (
        format!("'{}'", uuid::Uuid::new_v4()),
        format!("to_timestamp({})", now.unix_timestamp()),
        format!("'{}'", now.date()),
    );
    let user = format!("'{user}'");
    let parameters: Vec<&str> = match name {
        "session check" => vec![&someone, &user, &at],
        "first page" | "recent activity" | "due page" => vec![&user, "51"],
        "priority page" => vec![&user, "2", "2", "1000", "51"],
        "active page" => vec![&user, "false", "51"],
        "next page" => vec![&user, "1000", "51"],
        "counts" | "lists" | "label counts" => vec![&user],
        "upcoming count" => vec![&user, &day, &day],
        "list page" | "manual page" | "subtasks page" | "top-level page with progress" => vec![&user, "7", "51"],
        "top of a list" => vec![&user, "7"],
        "neighbour" => vec![&user, "7", "3", "1.5", "1.5", "3"],
        "label page" => vec![&user, &user, "'work'", "51"],
        "checked page" => vec![&someone, &user, &at, &user, &user, "51"],
        "sign-in lookup" | "refresh token" => vec!["'someone@example.com'"],
        "throttle count" => vec!["'signin:account:x'", &at],
        "purge revoked sessions" => vec!["1000"],
        name if name.starts_with("purge") => vec![&at, "1000"],
        _ => unreachable!(),
    };
    sqlx::query(&format!("PREPARE hot AS {sql}")).execute(&mut *tx).await.unwrap();
    let explain = format!("EXPLAIN (FORMAT JSON) EXECUTE hot({})", parameters.join(", "));
    let plan = sqlx::query_scalar(&explain).fetch_one(&mut *tx).await.unwrap();
    sqlx::query("DEALLOCATE hot").execute(&mut *tx).await.unwrap();
    plan
}

/// Every `Index Cond` in a JSON plan: what its index scans search by.
fn index_conditions(plan: &serde_json::Value) -> Vec<String> {
    match plan {
        serde_json::Value::Object(node) => node
            .iter()
            .flat_map(|(key, value)| match (key.as_str(), value) {
                ("Index Cond", serde_json::Value::String(condition)) => vec![condition.clone()],
                _ => index_conditions(value),
            })
            .collect(),
        serde_json::Value::Array(items) => items.iter().flat_map(index_conditions).collect(),
        _ => Vec::new(),
    }
}

/// The transaction a reading body runs in is `READ ONLY`: PostgreSQL
/// refuses a write put there by mistake, as SQLite's `query_only` reading
/// connections do (decision 0025); a writing body's transaction takes it.
#[tokio::test]
async fn a_reading_transaction_refuses_writes() {
    let Some(_) = postgres_url() else { return };
    let app = TestApp::spawn(Backend::Postgres).await.unwrap();
    let Db::Postgres(owner) = &app.unrestricted else { unreachable!() };
    let user = uuid::Uuid::new_v4();
    for read_only in [true, false] {
        let mut conn = owner.acquire().await.unwrap();
        conn.execute(&*app.db.for_user(user).postgres_begin(read_only)).await.unwrap();
        let write =
            sqlx::query("UPDATE tasks SET title = title WHERE user_id = $1").bind(user).execute(&mut *conn).await;
        let code = write.as_ref().err().and_then(|err| err.as_database_error()).and_then(|err| err.code());
        // 25006: read_only_sql_transaction.
        assert_eq!(code.as_deref(), read_only.then_some("25006"), "read only: {read_only}, {write:?}");
        conn.execute("ROLLBACK").await.unwrap();
    }
}

/// A TCP proxy to PostgreSQL that counts the round trips its clients make:
/// those that carry a statement (each simple `Query`, and each `Sync` that
/// ends a batch with a `Parse` or an `Execute` in it), and pings (a bare
/// `Sync`, and a `ROLLBACK` sent in the same batch as one: how a read-only
/// transaction ends, with the ping of the connection's return to the pool).
struct RoundTripCounter {
    addr: SocketAddr,
    count: Arc<std::sync::atomic::AtomicUsize>,
    pings: Arc<std::sync::atomic::AtomicUsize>,
}

impl RoundTripCounter {
    async fn start(target: SocketAddr) -> RoundTripCounter {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let pings = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (counter, pinged) = (count.clone(), pings.clone());
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else { return };
                let Ok(server) = tokio::net::TcpStream::connect(target).await else { continue };
                let (counter, pinged) = (counter.clone(), pinged.clone());
                tokio::spawn(async move {
                    let (mut from_client, mut to_client) = client.into_split();
                    let (mut from_server, mut to_server) = server.into_split();
                    tokio::spawn(async move { tokio::io::copy(&mut from_server, &mut to_client).await });
                    let (mut buffer, mut chunk) = (Vec::new(), [0u8; 8192]);
                    let (mut started, mut batch_has_work, mut rolling_back) = (false, false, false);
                    while let Ok(n) = from_client.read(&mut chunk).await {
                        if n == 0 || to_server.write_all(&chunk[..n]).await.is_err() {
                            return;
                        }
                        buffer.extend_from_slice(&chunk[..n]);
                        loop {
                            // Before the startup message: untyped (SSLRequest, StartupMessage).
                            let header = if started { 5 } else { 4 };
                            if buffer.len() < header {
                                break;
                            }
                            let at = header - 4;
                            let length = u32::from_be_bytes(buffer[at..at + 4].try_into().unwrap()) as usize;
                            if buffer.len() < at + length {
                                break;
                            }
                            if started {
                                // A ROLLBACK is the ping's when a bare Sync follows it at once.
                                if std::mem::take(&mut rolling_back) && buffer[0] != b'S' {
                                    counter.fetch_add(1, Ordering::SeqCst);
                                }
                                match buffer[0] {
                                    b'Q' if &buffer[5..5 + length - 4] == b"ROLLBACK\0" => rolling_back = true,
                                    b'Q' => {
                                        counter.fetch_add(1, Ordering::SeqCst);
                                    }
                                    b'P' | b'E' => batch_has_work = true,
                                    b'S' if batch_has_work => {
                                        counter.fetch_add(1, Ordering::SeqCst);
                                        batch_has_work = false;
                                    }
                                    b'S' => {
                                        pinged.fetch_add(1, Ordering::SeqCst);
                                    }
                                    _ => {}
                                }
                            } else {
                                // The startup message (protocol 3.0) ends the untyped part.
                                started = buffer[4..8] == 196608u32.to_be_bytes();
                            }
                            buffer.drain(..at + length);
                        }
                    }
                });
            }
        });
        RoundTripCounter { addr, count, pings }
    }

    fn counts(&self) -> (usize, usize) {
        (self.count.load(Ordering::SeqCst), self.pings.load(Ordering::SeqCst))
    }
}

/// The app on the database of `url`, through a [`RoundTripCounter`], with
/// one pooled connection (so that one warm-up prepares every statement).
async fn counted_app(url: &str) -> (TestApp, RoundTripCounter) {
    let counter = RoundTripCounter::start(server_of(url).await).await;
    // Plain text: the counter reads the protocol.
    let app = boot_through(url, counter.addr, "?sslmode=disable", &[("DATABASE_MAX_CONNECTIONS", "1")]).await;
    (app, counter)
}

/// The address of the PostgreSQL server at `url`.
async fn server_of(url: &str) -> SocketAddr {
    let options: sqlx::postgres::PgConnectOptions = url.parse().unwrap();
    tokio::net::lookup_host((options.get_host(), options.get_port())).await.unwrap().find(SocketAddr::is_ipv4).unwrap()
}

/// The app on the database of `url`, reached through a proxy at `proxy`.
async fn boot_through(url: &str, proxy: SocketAddr, suffix: &str, extra: &[(&str, &str)]) -> TestApp {
    let options: sqlx::postgres::PgConnectOptions = url.parse().unwrap();
    let proxied_url = format!(
        "postgres://{}@127.0.0.1:{}/{}{suffix}",
        options.get_username(),
        proxy.port(),
        options.get_database().unwrap_or("postgres")
    );
    TestApp::boot(Backend::Postgres, tempfile::tempdir().unwrap(), &proxied_url, extra).await
}

/// Round trips to PostgreSQL that `request` makes (after a warm-up run):
/// those with a statement, and pings.
async fn round_trips<F: std::future::Future<Output = StatusCode>>(
    counter: &RoundTripCounter,
    request: impl Fn() -> F,
) -> (usize, usize) {
    let answered = |status: StatusCode| status.is_success() || status.is_redirection();
    assert!(answered(request().await), "warm-up");
    // sqlx pings a connection when it goes back to the pool, after the
    // request's work: let that land on the side it belongs to.
    let settle = || tokio::time::sleep(Duration::from_millis(100));
    settle().await;
    let (statements, pings) = counter.counts();
    assert!(answered(request().await));
    settle().await;
    let (statements_after, pings_after) = counter.counts();
    (statements_after - statements, pings_after - pings)
}

/// Everything a request does for its user, the session check included,
/// is one transaction on PostgreSQL: two round trips for a read (BEGIN
/// with the check and the settings, the statement; the read-only
/// transaction ends with the ping that returns the connection to the
/// pool), three for a write (and COMMIT), one more for a create (the quota
/// lock). The one pooled connection goes from reads to writes: a read's
/// transaction is over by the time the connection is lent again.
#[tokio::test]
async fn a_request_is_one_transaction_session_check_included() {
    let Some(url) = postgres_url() else { return };
    let (app, counter) = counted_app(&url).await;

    let browser = app.signed_in().await;
    for title in ["one", "two", "three"] {
        browser.create_task(title).await;
    }
    browser.post("/tasks", &[("title", "labelled"), ("labels", "work, home"), ("priority", "1")]).await;
    let inbox = browser.get("/tasks").await.body;
    let inbox = inbox[inbox.find("href=\"/lists/").unwrap() + 13..].split('"').next().unwrap().to_owned();
    let labelled_page = format!("/lists/{inbox}?label=work&label=home&sort=priority");
    assert_eq!(browser.get(&labelled_page).await.task_ids().len(), 1, "the page shows the labelled task");
    let (api, _) = crate::api::Api::signed_up(&app).await;
    api.create("one").await;
    api.post("/tasks", serde_json::json!({"title": "labelled", "labels": ["work", "home"]})).await;
    for (what, (statements, pings)) in [
        ("GET /tasks", round_trips(&counter, || async { browser.get("/tasks").await.status }).await),
        (
            "a filtered search",
            round_trips(&counter, || async { browser.get("/tasks?status=active&q=t").await.status }).await,
        ),
        ("GET /api/v1/tasks", round_trips(&counter, || async { api.get("/tasks?limit=50").await.status }).await),
        (
            "a list's page by label and priority",
            round_trips(&counter, || async { browser.get(&labelled_page).await.status }).await,
        ),
        (
            "GET /api/v1/tasks by label and priority",
            round_trips(&counter, || async { api.get("/tasks?label=work&label=home&sort=priority").await.status })
                .await,
        ),
    ] {
        // BEGIN with the settings, the statement; and the ping that returns
        // the connection to the pool, with the ROLLBACK, unwaited for.
        assert!(statements <= 2, "{what} made {statements} round trips with statements");
        assert!(pings <= 1, "{what} pinged {pings} times: a connection in use is not pinged before it is lent");
    }

    let task = api.create("two").await;
    let (one, _) = crate::api::Api::signed_up(&app).await;
    let toggle = browser.get("/tasks").await.task_ids()[0].to_string();
    for (what, most, (statements, pings)) in [
        (
            "GET /api/v1/tasks/{id}",
            2,
            round_trips(&counter, || async { api.get(&format!("/tasks/{task}")).await.status }).await,
        ),
        ("GET /api/v1/me", 2, round_trips(&counter, || async { one.get("/me").await.status }).await),
        (
            "PATCH /api/v1/tasks/{id}",
            3,
            round_trips(&counter, || async {
                api.send(reqwest::Method::PATCH, &format!("/tasks/{task}"), Some(serde_json::json!({"title": "2"})))
                    .await
                    .status
            })
            .await,
        ),
        // BEGIN with the check and settings, the quota lock, the insert, COMMIT.
        (
            "POST /api/v1/tasks",
            4,
            round_trips(&counter, || async { api.post("/tasks", serde_json::json!({"title": "n"})).await.status })
                .await,
        ),
        (
            "POST /tasks/{id}/toggle",
            3,
            round_trips(&counter, || async { browser.post(&format!("/tasks/{toggle}/toggle"), &[]).await.status })
                .await,
        ),
    ] {
        assert!(statements <= most, "{what} made {statements} round trips with statements, not {most}");
        assert!(pings <= 1, "{what} pinged {pings} times");
    }

    // The counter counts: a page whose session is checked on its own costs more.
    let (account, _) = round_trips(&counter, || async { browser.get("/account").await.status }).await;
    assert!(account > 3, "the counter saw {account} round trips for /account");
}
