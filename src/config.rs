//! Typed configuration from the environment.
//!
//! Everything the program can be told lives here, parsed once at start. A bad
//! value becomes a [`ConfigError`] naming the variable, which `main` prints as
//! one line before exiting with code 2.

use std::{
    collections::HashMap,
    fmt,
    net::SocketAddr,
    path::{Path, PathBuf},
    str::FromStr,
    time::Duration,
};

use crate::db::{DatabaseUrl, PoolSettings, RowSecurity};

/// The smallest HS256 key we accept, in bytes (RFC 7518 §3.2).
const MIN_SECRET_BYTES: usize = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

/// A value that must never be printed: `Debug` shows only its length.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Secret(bytes.into())
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret([redacted; {} bytes])", self.0.len())
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    pub environment: Environment,
    pub database_url: DatabaseUrl,
    pub pool: PoolSettings,
    /// How long start-up keeps retrying an unreachable database.
    pub connect_retry: Duration,
    pub data_dir: PathBuf,
    pub jwt_secret: Secret,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub bind_addr: SocketAddr,
    /// Origins a state-changing browser request may come from.
    pub allowed_origins: Vec<String>,
    /// Origins whose pages may call the JSON API (CORS); empty: none.
    pub cors_allowed_origins: Vec<String>,
    pub log_json: bool,
    pub limits: RateLimits,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Outgoing mail server; `None`: messages go to `DATA_DIR/outbox/`.
    pub smtp_url: Option<Secret>,
    /// `SIGNUP_CONFIRMATION=email`: a new account is created only from the
    /// link in a confirmation mail, and sign-up answers the same whether or
    /// not the email has an account. Off (the contract's default): sign-up
    /// signs in at once, and a taken email is refused.
    pub confirm_signup_by_email: bool,
    pub quotas: Quotas,
    /// What one client may hold open (see `listener.rs`).
    pub connections: crate::listener::ConnectionLimits,
}

/// How much one account may hold: far beyond what a person uses, so that
/// only a script (or an attacker with an account of their own) meets them.
#[derive(Clone, Copy, Debug)]
pub struct Quotas {
    /// `MAX_TASKS_PER_USER`: creating past it answers 409.
    pub tasks_per_user: i64,
    /// `MAX_SESSIONS_PER_USER`: a sign-in past it ends the least recently
    /// used session.
    pub sessions_per_user: i64,
    /// `MAX_SECURITY_EVENTS_PER_USER`: older events are dropped past it (and
    /// after a year in any case).
    pub security_events_per_user: i64,
    /// `MAX_LISTS_PER_USER`: creating past it answers 409.
    pub lists_per_user: i64,
    /// `MAX_LABELS_PER_USER`: making one past it (by name on a task, too)
    /// answers 409.
    pub labels_per_user: i64,
}

impl Quotas {
    /// What a task write checks.
    pub fn for_tasks(&self) -> crate::db::tasks::Quotas {
        crate::db::tasks::Quotas { tasks: self.tasks_per_user, labels: self.labels_per_user }
    }
}

/// At most `count` events per `window`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    pub count: u32,
    pub window: Duration,
}

impl FromStr for Limit {
    type Err = ();

    /// `10/15m`, `50/1h`, `5/30s`, `100/1d`.
    fn from_str(text: &str) -> Result<Self, ()> {
        let (count, window) = text.split_once('/').ok_or(())?;
        let count: u32 = count.trim().parse().map_err(|_| ())?;
        let window = window.trim();
        let (number, unit) = window.split_at(window.find(|c: char| !c.is_ascii_digit()).ok_or(())?);
        let number: u64 = number.parse().map_err(|_| ())?;
        let seconds = match unit {
            "s" => number,
            "m" => number * 60,
            "h" => number * 3600,
            "d" => number * 86_400,
            _ => return Err(()),
        };
        if count == 0 || seconds == 0 {
            return Err(());
        }
        Ok(Limit { count, window: Duration::from_secs(seconds) })
    }
}

#[derive(Clone, Copy, Debug)]
pub struct RateLimits {
    pub signin_per_account: Limit,
    pub signin_per_ip: Limit,
    pub signup_per_ip: Limit,
    /// Password-reset requests per IP; shares the sign-up figure.
    pub reset_per_ip: Limit,
    /// Confirmation mail to one address (`SIGNUP_CONFIRMATION=email`), on
    /// anyone's request: how often, never whose — past it the newest request
    /// waits for the next slot.
    pub signup_mail_per_address: Limit,
}

impl Config {
    pub fn secure_cookies(&self) -> bool {
        self.environment == Environment::Production
    }

    /// Where people reach doable, for links in mail.
    pub fn public_url(&self) -> &str {
        self.allowed_origins.first().map_or("http://127.0.0.1:3000", String::as_str)
    }
}

/// One line for the operator: which variable is wrong and how.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

fn invalid(variable: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError { variable, problem: problem.into() }
}

impl Config {
    /// Reads the process environment (after `.env`, if present).
    pub fn from_env() -> Result<Self, ConfigError> {
        // A missing .env is normal; a malformed one is the operator's to fix.
        if let Err(err) = dotenvy::dotenv()
            && !err.not_found()
        {
            return Err(invalid(".env", err.to_string()));
        }
        Self::from_vars(&std::env::vars().collect())
    }

    /// Parses configuration from a map of variables, so tests need not touch
    /// the process environment.
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let get = |name: &str| vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());

        let environment = match get("ENVIRONMENT").unwrap_or("development") {
            "development" | "dev" => Environment::Development,
            "production" | "prod" => Environment::Production,
            other => {
                return Err(invalid("ENVIRONMENT", format!("expected development or production, got {other:?}")));
            }
        };

        let data_dir = PathBuf::from(get("DATA_DIR").unwrap_or("data"));
        let default_database = format!("sqlite://{}/doable.db", data_dir.display());
        let database_url = DatabaseUrl::parse(get("DATABASE_URL").unwrap_or(&default_database))
            .map_err(|problem| invalid("DATABASE_URL", problem))?;

        let seconds = |name: &'static str, default: u64, max: u64| -> Result<Duration, ConfigError> {
            let value: u64 = parse_or(get(name), default, name)?;
            if value == 0 || value > max {
                return Err(invalid(name, format!("must be between 1 and {max} seconds")));
            }
            Ok(Duration::from_secs(value))
        };
        let max_connections: u32 = parse_or(get("DATABASE_MAX_CONNECTIONS"), 10, "DATABASE_MAX_CONNECTIONS")?;
        if !(1..=1000).contains(&max_connections) {
            return Err(invalid("DATABASE_MAX_CONNECTIONS", "must be between 1 and 1000"));
        }
        let pool = PoolSettings {
            max_connections,
            acquire_timeout: seconds("DATABASE_ACQUIRE_TIMEOUT_SECONDS", 5, 300)?,
            statement_timeout: seconds("DATABASE_STATEMENT_TIMEOUT_SECONDS", 10, 3600)?,
            row_security: match (get("DATABASE_ROW_LEVEL_SECURITY").unwrap_or("on"), get("DATABASE_APP_ROLE")) {
                ("on", None) => RowSecurity::OwnRole,
                ("on", Some(role)) if valid_role_name(role) => RowSecurity::Role(role.to_owned()),
                ("on", Some(_)) => {
                    return Err(invalid("DATABASE_APP_ROLE", "expected a role name: a-z, 0-9 and _, at most 63"));
                }
                ("off", None) => RowSecurity::Off,
                ("off", Some(_)) => {
                    return Err(invalid("DATABASE_ROW_LEVEL_SECURITY", "off leaves no use for DATABASE_APP_ROLE"));
                }
                _ => return Err(invalid("DATABASE_ROW_LEVEL_SECURITY", "expected on or off")),
            },
        };
        let connect_retry = seconds("DATABASE_CONNECT_RETRY_SECONDS", 30, 3600)?;

        let jwt_secret = match (get("JWT_SECRET"), get("BETTER_AUTH_SECRET")) {
            (Some(secret), _) => checked_secret("JWT_SECRET", secret)?,
            (None, Some(secret)) => checked_secret("BETTER_AUTH_SECRET", secret)?,
            (None, None) if environment == Environment::Production => {
                return Err(invalid("JWT_SECRET", "is required when ENVIRONMENT=production"));
            }
            (None, None) => development_secret(&data_dir)?,
        };

        let access_minutes: u64 =
            parse_or(get("JWT_ACCESS_TOKEN_EXPIRE_MINUTES"), 15, "JWT_ACCESS_TOKEN_EXPIRE_MINUTES")?;
        let refresh_days: u64 = parse_or(get("JWT_REFRESH_TOKEN_EXPIRE_DAYS"), 7, "JWT_REFRESH_TOKEN_EXPIRE_DAYS")?;
        if !(1..=24 * 60).contains(&access_minutes) {
            return Err(invalid("JWT_ACCESS_TOKEN_EXPIRE_MINUTES", "must be between 1 and 1440"));
        }
        if !(1..=365).contains(&refresh_days) {
            return Err(invalid("JWT_REFRESH_TOKEN_EXPIRE_DAYS", "must be between 1 and 365"));
        }

        let bind_addr: SocketAddr = parse_or(get("BIND_ADDR"), SocketAddr::from(([127, 0, 0, 1], 3000)), "BIND_ADDR")?;
        let allowed_origins = match get("PUBLIC_URL") {
            Some(url) => vec![
                origin_of(url)
                    .ok_or_else(|| invalid("PUBLIC_URL", "expected an origin such as https://todo.example.com"))?,
            ],
            // Behind a proxy the bind address is not what browsers see.
            None if environment == Environment::Production => {
                return Err(invalid("PUBLIC_URL", "is required when ENVIRONMENT=production"));
            }
            // Without PUBLIC_URL the app is reached at its bind address.
            None => {
                let port = bind_addr.port();
                let mut origins = vec![format!("http://{bind_addr}")];
                if bind_addr.ip().is_loopback() {
                    origins.push(format!("http://localhost:{port}"));
                    origins.push(format!("http://127.0.0.1:{port}"));
                }
                origins.dedup();
                origins
            }
        };

        let cors_allowed_origins = get("CORS_ALLOWED_ORIGINS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(|o| {
                origin_of(o).filter(|origin| origin == &o.to_ascii_lowercase()).ok_or_else(|| {
                    invalid(
                        "CORS_ALLOWED_ORIGINS",
                        format!("{o:?} is not an exact origin such as https://app.example.com (no *, no path)"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;

        let log_json = match get("LOG_FORMAT") {
            None => environment == Environment::Production,
            Some("json") => true,
            Some("text") => false,
            Some(other) => return Err(invalid("LOG_FORMAT", format!("expected json or text, got {other:?}"))),
        };

        let limit = |name: &'static str, default: &str| -> Result<Limit, ConfigError> {
            get(name)
                .unwrap_or(default)
                .parse()
                .map_err(|_| invalid(name, "expected COUNT/WINDOW such as 10/15m (s, m, h or d)"))
        };
        let signup_per_ip = limit("RATE_LIMIT_SIGNUP_PER_IP", "20/1h")?;
        let limits = RateLimits {
            signin_per_account: limit("RATE_LIMIT_SIGNIN_PER_ACCOUNT", "10/15m")?,
            signin_per_ip: limit("RATE_LIMIT_SIGNIN_PER_IP", "50/15m")?,
            signup_per_ip,
            reset_per_ip: signup_per_ip,
            signup_mail_per_address: limit("RATE_LIMIT_SIGNUP_MAIL_PER_ADDRESS", "3/1h")?,
        };

        let trusted_proxies = get("TRUSTED_PROXIES")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| {
                p.parse::<ipnet::IpNet>()
                    .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| invalid("TRUSTED_PROXIES", format!("{p:?} is not an IP address or CIDR range")))
            })
            .collect::<Result<Vec<_>, _>>()?;

        let smtp_url = match get("SMTP_URL") {
            None => None,
            Some(url)
                if (url.starts_with("smtp://") || url.starts_with("smtps://"))
                    && lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(url).is_ok() =>
            {
                Some(Secret::new(url))
            }
            Some(_) => return Err(invalid("SMTP_URL", "expected smtps://user:password@host:465 or smtp://…")),
        };

        let confirm_signup_by_email = match get("SIGNUP_CONFIRMATION") {
            None | Some("off") => false,
            Some("email") => true,
            Some(_) => return Err(invalid("SIGNUP_CONFIRMATION", "expected off or email")),
        };

        let quota = |name: &'static str, default: i64| -> Result<i64, ConfigError> {
            let value: i64 = parse_or(get(name), default, name)?;
            if !(1..=100_000_000).contains(&value) {
                return Err(invalid(name, "must be between 1 and 100000000"));
            }
            Ok(value)
        };
        let count = |name: &'static str, default: usize, max: usize| -> Result<usize, ConfigError> {
            let value: usize = parse_or(get(name), default, name)?;
            if !(1..=max).contains(&value) {
                return Err(invalid(name, format!("must be between 1 and {max}")));
            }
            Ok(value)
        };
        let connections = crate::listener::ConnectionLimits {
            idle: seconds("CONNECTION_IDLE_SECONDS", 45, 3600)?,
            total: count("MAX_CONNECTIONS", 4096, 1_000_000)?,
            per_ip: count("MAX_CONNECTIONS_PER_IP", 64, 1_000_000)?,
        };
        let quotas = Quotas {
            tasks_per_user: quota("MAX_TASKS_PER_USER", 100_000)?,
            sessions_per_user: quota("MAX_SESSIONS_PER_USER", 100)?,
            security_events_per_user: quota("MAX_SECURITY_EVENTS_PER_USER", 5_000)?,
            lists_per_user: quota("MAX_LISTS_PER_USER", 1_000)?,
            labels_per_user: quota("MAX_LABELS_PER_USER", 1_000)?,
        };

        Ok(Config {
            environment,
            database_url,
            pool,
            connect_retry,
            data_dir,
            jwt_secret,
            access_token_ttl: Duration::from_secs(access_minutes * 60),
            refresh_token_ttl: Duration::from_secs(refresh_days * 24 * 60 * 60),
            bind_addr,
            allowed_origins,
            cors_allowed_origins,
            log_json,
            limits,
            trusted_proxies,
            smtp_url,
            confirm_signup_by_email,
            quotas,
            connections,
        })
    }
}

/// A role name that needs no quoting anywhere: it is written into SQL.
fn valid_role_name(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn parse_or<T: FromStr>(value: Option<&str>, default: T, variable: &'static str) -> Result<T, ConfigError> {
    match value {
        None => Ok(default),
        Some(raw) => raw.parse().map_err(|_| invalid(variable, format!("cannot parse {raw:?}"))),
    }
}

fn checked_secret(variable: &'static str, secret: &str) -> Result<Secret, ConfigError> {
    if secret.len() < MIN_SECRET_BYTES {
        return Err(invalid(variable, format!("must be at least {MIN_SECRET_BYTES} bytes")));
    }
    Ok(Secret(secret.as_bytes().to_vec()))
}

/// `scheme://host[:port]` of a URL, lower-cased, without path.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?.to_ascii_lowercase();
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    // Browsers leave the default port out of `Origin`.
    let default_port = if scheme == "https" { ":443" } else { ":80" };
    let authority = authority.strip_suffix(default_port).unwrap_or(&authority);
    Some(format!("{scheme}://{authority}"))
}

/// In development the signing key is made once and kept in the data
/// directory (mode 0600), so sessions survive a restart.
fn development_secret(data_dir: &Path) -> Result<Secret, ConfigError> {
    use base64::Engine;
    let path = data_dir.join("jwt_secret");
    let fail = |what: &str, err: std::io::Error| {
        invalid("JWT_SECRET", format!("not set, and {what} {}: {err}", path.display()))
    };
    match std::fs::read_to_string(&path) {
        Ok(existing) => return checked_secret("JWT_SECRET", existing.trim()),
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => return Err(fail("cannot read", err)),
        Err(_) => {}
    }
    create_private_dir(data_dir).map_err(|err| fail("cannot create the directory of", err))?;
    let mut bytes = [0u8; 48];
    getrandom::fill(&mut bytes).map_err(|err| invalid("JWT_SECRET", format!("no randomness: {err}")))?;
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    match write_private(&path, secret.as_bytes()) {
        Ok(()) => Ok(Secret(secret.into_bytes())),
        // Another process started at the same moment and wrote it first: use theirs.
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            let theirs = std::fs::read_to_string(&path).map_err(|err| fail("cannot read", err))?;
            checked_secret("JWT_SECRET", theirs.trim())
        }
        Err(err) => Err(fail("cannot write", err)),
    }
}

/// The data directory holds the key and the database: owner only.
pub(crate) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt};
    // create_new: two processes starting at once must not both write a key.
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn production_without_a_secret_names_jwt_secret() {
        let err = Config::from_vars(&vars(&[("ENVIRONMENT", "production")])).unwrap_err();
        assert_eq!(err.variable, "JWT_SECRET");
    }

    #[test]
    fn a_short_secret_is_refused() {
        let err = Config::from_vars(&vars(&[("ENVIRONMENT", "production"), ("JWT_SECRET", "short")])).unwrap_err();
        assert_eq!(err.to_string(), "JWT_SECRET: must be at least 32 bytes");
    }

    #[test]
    fn production_needs_public_url() {
        let secret = "b".repeat(40);
        let err = Config::from_vars(&vars(&[("ENVIRONMENT", "production"), ("JWT_SECRET", &secret)])).unwrap_err();
        assert_eq!(err.variable, "PUBLIC_URL");
    }

    #[test]
    fn better_auth_secret_is_the_fallback_name() {
        let secret = "b".repeat(40);
        let config = Config::from_vars(&vars(&[
            ("ENVIRONMENT", "production"),
            ("BETTER_AUTH_SECRET", &secret),
            ("PUBLIC_URL", "https://todo.example.com"),
        ]))
        .unwrap();
        assert_eq!(config.jwt_secret.expose(), secret.as_bytes());
    }

    #[test]
    fn the_development_secret_is_made_once_with_mode_0600_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let env = vars(&[("DATA_DIR", data.to_str().unwrap())]);
        let first = Config::from_vars(&env).unwrap();
        let second = Config::from_vars(&env).unwrap();
        assert_eq!(first.jwt_secret.expose(), second.jwt_secret.expose());
        assert!(first.jwt_secret.expose().len() >= MIN_SECRET_BYTES);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(data.join("jwt_secret")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn limits_read_count_per_window() {
        assert_eq!("10/15m".parse(), Ok(Limit { count: 10, window: Duration::from_secs(900) }));
        assert_eq!("20/1h".parse(), Ok(Limit { count: 20, window: Duration::from_secs(3600) }));
        for bad in ["10", "0/1m", "10/0m", "10/15", "ten/15m", "10/15y"] {
            assert!(bad.parse::<Limit>().is_err(), "{bad}");
        }
    }

    #[test]
    fn signup_confirmation_is_off_or_email() {
        let secret = "b".repeat(40);
        let with = |value: &str| Config::from_vars(&vars(&[("JWT_SECRET", &secret), ("SIGNUP_CONFIRMATION", value)]));
        assert!(!with("").unwrap().confirm_signup_by_email);
        assert!(!with("off").unwrap().confirm_signup_by_email);
        assert!(with("email").unwrap().confirm_signup_by_email);
        let err = with("yes").unwrap_err();
        assert_eq!(err.to_string(), "SIGNUP_CONFIRMATION: expected off or email");
    }

    #[test]
    fn secrets_do_not_print() {
        let secret = Secret(b"super-secret-value-that-is-long-enough".to_vec());
        assert!(!format!("{secret:?}").contains("super-secret"));
    }

    #[test]
    fn public_url_becomes_an_origin() {
        assert_eq!(origin_of("https://Todo.Example.com/app/").as_deref(), Some("https://todo.example.com"));
        assert_eq!(origin_of("https://todo.example.com:443").as_deref(), Some("https://todo.example.com"));
        assert_eq!(origin_of("http://localhost:8080").as_deref(), Some("http://localhost:8080"));
        assert_eq!(origin_of("https://todo.example.com:443").as_deref(), Some("https://todo.example.com"));
        assert_eq!(origin_of("http://localhost:8080").as_deref(), Some("http://localhost:8080"));
        assert_eq!(origin_of("ftp://x"), None);
        assert_eq!(origin_of("https://user@evil.com"), None);
    }
}
