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
