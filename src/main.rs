use std::process::ExitCode;

use tracing_subscriber::EnvFilter;

/// Exit code for a configuration or start-up problem the operator must fix.
const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    give_large_allocations_back();
    let config = match doable::Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("doable: configuration error: {err}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => match EnvFilter::try_new(&spec) {
            Ok(filter) => filter,
            Err(err) => {
                eprintln!("doable: configuration error: RUST_LOG: {err}");
                return ExitCode::from(EXIT_CONFIG);
            }
        },
        _ => EnvFilter::new("info"),
    };
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()));
    if config.log_json {
        logs.json().init()
    } else {
        logs.init()
    }

    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("doable: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        [] | ["serve"] => match runtime.block_on(doable::run(config)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("doable: {err}");
                ExitCode::from(EXIT_CONFIG)
            }
        },
        ["user", action @ ("activate" | "deactivate"), email] => {
            match runtime.block_on(doable::set_user_active(&config, email, *action == "activate")) {
                Ok(true) => {
                    println!("{email}: {action}d");
                    ExitCode::SUCCESS
                }
                Ok(false) => {
                    eprintln!("doable: no account with the email {email}");
                    ExitCode::FAILURE
                }
                Err(err) => {
                    eprintln!("doable: {err}");
                    ExitCode::from(EXIT_CONFIG)
                }
            }
        }
        _ => {
            eprintln!("usage: doable [serve]\n       doable user activate|deactivate EMAIL");
            ExitCode::from(EXIT_CONFIG)
        }
    }
}

/// Each argon2 run takes 19 MiB of working memory. glibc serves an
/// allocation that large by mmap and unmaps it when freed, until the first
/// such free: then it raises its mmap threshold past that size, and later
/// runs take their memory from its heaps, which keep it (one heap per thread
/// that hashed, so a sign-in flood left RSS at hundreds of MB). A fixed
/// threshold turns that adjustment off: password hashing gives its memory
/// back as each run ends, and so does anything else of a MiB or more.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn give_large_allocations_back() {
    // SAFETY: mallopt only sets allocator parameters; it is called before
    // any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn give_large_allocations_back() {}
