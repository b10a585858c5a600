//! Test helpers: each test boots the real application on a free port with a
//! database of its own and talks to it over HTTP like a browser would.

use std::{collections::HashMap, net::SocketAddr, sync::Arc};

use doable::{
    AppState, Config, build_app,
    db::{DatabaseUrl, Db},
    listener::{GuardedListener, Peer},
};
use reqwest::{
    Client, StatusCode,
    cookie::{CookieStore, Jar},
    header::HeaderMap,
    redirect::Policy,
};
use sqlx::{postgres::PgPoolOptions, sqlite::SqlitePoolOptions};
use tempfile::TempDir;

pub const SECRET: &str = "test-secret-that-is-long-enough-for-hs256";
pub const PASSWORD: &str = "correct horse battery staple";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server to test against, if any. Without one the PostgreSQL
/// half of the suite is skipped, unless `DOABLE_REQUIRE_POSTGRES=1` (CI)
/// makes that a failure.
pub fn postgres_url() -> Option<String> {
    match std::env::var("DOABLE_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var("DOABLE_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
                panic!("DOABLE_REQUIRE_POSTGRES=1 but DOABLE_TEST_POSTGRES_URL is not set");
            }
            eprintln!("skipped: set DOABLE_TEST_POSTGRES_URL to run the PostgreSQL half of the suite");
            None
        }
    }
}

pub struct TestApp {
    pub base: String,
    pub backend: Backend,
    pub database_url: String,
    /// The app's own pool (on PostgreSQL: subject to row-level security).
    pub db: Db,
    /// The same database as its owner sees it: see [`unrestricted`].
    pub unrestricted: Db,
    pub data_dir: TempDir,
}

impl TestApp {
    /// Boots the app; `None` when the backend is not available here.
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        Self::spawn_with(backend, &[]).await
    }

    pub async fn spawn_with(backend: Backend, extra: &[(&str, &str)]) -> Option<TestApp> {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let database_url = match backend {
            Backend::Sqlite => format!("sqlite://{}/doable.db", data_dir.path().display()),
            Backend::Postgres => postgres_url()?,
        };
        Some(Self::boot(backend, data_dir, &database_url, extra).await)
    }

    pub async fn boot(backend: Backend, data_dir: TempDir, database_url: &str, extra: &[(&str, &str)]) -> TestApp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        let base = format!("http://{addr}");
        let mut vars: HashMap<String, String> = [
            ("DATABASE_URL", database_url),
            ("DATA_DIR", data_dir.path().to_str().expect("utf-8 path")),
            ("JWT_SECRET", SECRET),
            ("PUBLIC_URL", base.as_str()),
            // Every test signs up from 127.0.0.1 (and on PostgreSQL they share
            // one database): throttling tests set their own limits and IPs.
            ("RATE_LIMIT_SIGNUP_PER_IP", "1000000/1h"),
            ("RATE_LIMIT_SIGNIN_PER_IP", "1000000/15m"),
            // Concurrency tests open hundreds of connections from 127.0.0.1.
            ("MAX_CONNECTIONS_PER_IP", "1000000"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        for (k, v) in extra {
            vars.insert((*k).to_owned(), (*v).to_owned());
        }
        vars.retain(|_, v| !v.is_empty());
        let config = Config::from_vars(&vars).expect("test config");
        let db = Db::connect_with(&config.database_url, &config.pool).await.expect("database");
        // The listener the binary uses, with its guards.
        let listener = GuardedListener::new(listener, config.connections, config.trusted_proxies.clone());
        let app = build_app(AppState::new(config, db.clone()));
        tokio::spawn(async move {
            axum::serve(listener, app.into_make_service_with_connect_info::<Peer>()).await.expect("serve");
        });
        TestApp {
            base,
            backend,
            database_url: database_url.to_owned(),
            db,
            unrestricted: unrestricted(database_url),
            data_dir,
        }
    }

    /// Another instance on the same database with extra settings, which
    /// also believes `X-Forwarded-For` from 127.0.0.1 (see [`from_ip`]).
    pub async fn restart_with(self, extra: &[(&str, &str)]) -> TestApp {
        let mut extra = extra.to_vec();
        extra.push(("TRUSTED_PROXIES", "127.0.0.1"));
        // The same data directory: it holds the SQLite database.
        Self::boot(self.backend, self.data_dir, &self.database_url, &extra).await
    }

    /// A browser that comes from an address of its own (through the trusted
    /// proxy of [`restart_with`]), so its throttling buckets are its own
    /// even on a database other tests share.
    pub fn browser_from(&self, ip: &str) -> Browser {
        let jar = Arc::new(Jar::default());
        let client = from_ip(ip).cookie_provider(jar.clone()).build().expect("client");
        Browser::with_client(&self.base, client, jar)
    }
}

/// A client builder whose requests say they come from `ip`.
pub fn from_ip(ip: &str) -> reqwest::ClientBuilder {
    let mut headers = HeaderMap::new();
    headers.insert("x-forwarded-for", ip.parse().expect("ip header"));
    Client::builder().default_headers(headers).redirect(Policy::none())
}

/// An address nobody else uses.
pub fn unique_ip() -> String {
    let bytes = *uuid::Uuid::new_v4().as_bytes();
    format!("10.{}.{}.{}", bytes[0], bytes[1], bytes[2])
}

impl TestApp {
    pub fn browser(&self) -> Browser {
        Browser::new(&self.base)
    }

    /// A browser with a fresh account, signed in.
    pub async fn signed_in(&self) -> Browser {
        let browser = self.browser();
        let response = browser.sign_up(&unique_email(), PASSWORD).await;
        assert_eq!(response.status, StatusCode::SEE_OTHER, "sign-up failed: {}", response.body);
        browser
    }
}

/// The database at `url` as the tables' owner sees it, past the row-level
/// security that the app's own pool is subject to on PostgreSQL: for tests
/// that inspect or age rows behind the app's back. Connects on first use;
/// the app (`Db::connect`) must have migrated the database.
pub fn unrestricted(url: &str) -> Db {
    match DatabaseUrl::parse(url).expect("database url") {
        DatabaseUrl::Sqlite(options) => Db::Sqlite(doable::db::SqlitePools::single(
            SqlitePoolOptions::new().max_connections(2).connect_lazy_with(options),
        )),
        DatabaseUrl::Postgres(options) => {
            Db::Postgres(PgPoolOptions::new().max_connections(2).connect_lazy_with(options))
        }
    }
}

/// The messages in the outbox for `email`, oldest first, as plain text
/// (quoted-printable undone). Waits a moment for at least `count` of them:
/// mail is sent in the background.
pub async fn mails_to(app: &TestApp, email: &str, count: usize) -> Vec<String> {
    let outbox = app.data_dir.path().join("outbox");
    for _ in 0..100 {
        if let Ok(entries) = std::fs::read_dir(&outbox) {
            let mut paths: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
            paths.sort(); // names are UUIDv7s: in the order written
            let texts: Vec<String> = paths
                .iter()
                .map(|path| std::fs::read_to_string(path).unwrap().replace("=\r\n", "").replace("=3D", "="))
                .filter(|text| text.contains(email))
                .collect();
            if texts.len() >= count {
                return texts;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("fewer than {count} mails for {email} in {}", outbox.display());
}

/// The link starting with `path` (such as `/reset-password?token=`) in the
/// newest message to `email`.
pub async fn link_in_mail(app: &TestApp, path: &str, email: &str) -> String {
    let newest = mails_to(app, email, 1).await.pop().unwrap();
    let start = newest.find(path).unwrap_or_else(|| panic!("no {path} link in {newest}"));
    let end = newest[start..].find(char::is_whitespace).unwrap() + start;
    newest[start..end].to_owned()
}

/// A new address for every call, so tests sharing a database never collide.
pub fn unique_email() -> String {
    format!("user-{}@example.com", uuid::Uuid::new_v4().simple())
}

#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> &str {
        self.headers.get("location").and_then(|v| v.to_str().ok()).unwrap_or_default()
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers.get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).map(str::to_owned).collect()
    }

    /// Ids of the tasks on this page, top to bottom.
    pub fn task_ids(&self) -> Vec<i64> {
        self.body
            .match_indices("<li id=\"task-")
            .filter_map(|(at, m)| {
                let rest = &self.body[at + m.len()..];
                rest[..rest.find('"')?].parse().ok()
            })
            .collect()
    }
}

/// A cookie-keeping HTTP client that does not follow redirects, and
/// remembers the CSRF token of the last page it saw, like a browser's form.
pub struct Browser {
    pub base: String,
    pub client: Client,
    pub jar: Arc<Jar>,
    csrf: std::sync::Mutex<Option<String>>,
}

pub fn csrf_in(html: &str) -> Option<String> {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

impl Browser {
    pub fn new(base: &str) -> Self {
        let jar = Arc::new(Jar::default());
        let client = Client::builder().cookie_provider(jar.clone()).redirect(Policy::none()).build().expect("client");
        Self::with_client(base, client, jar)
    }

    /// A browser over a client of the caller's making (extra headers, say).
    pub fn with_client(base: &str, client: Client, jar: Arc<Jar>) -> Self {
        Browser { base: base.to_owned(), client, jar, csrf: std::sync::Mutex::new(None) }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The `Cookie` header this browser would send, to replay elsewhere.
    pub fn cookie_header(&self) -> String {
        let url = self.base.parse().expect("url");
        self.jar.cookies(&url).map(|v| v.to_str().unwrap_or_default().to_owned()).unwrap_or_default()
    }

    pub fn csrf(&self) -> String {
        self.csrf.lock().unwrap().clone().expect("no page with a CSRF token seen yet")
    }

    async fn read(&self, response: reqwest::Response) -> Page {
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.text().await.expect("body");
        if let Some(token) = csrf_in(&body) {
            *self.csrf.lock().unwrap() = Some(token);
        }
        Page { status, headers, body }
    }

    pub async fn get(&self, path: &str) -> Page {
        self.read(self.client.get(self.url(path)).send().await.expect("GET")).await
    }

    pub async fn get_htmx(&self, path: &str) -> Page {
        let request = self.client.get(self.url(path)).header("HX-Request", "true");
        self.read(request.send().await.expect("GET")).await
    }

    /// Posts a form exactly as given (no token added).
    pub async fn post_raw(&self, path: &str, form: &[(&str, &str)], headers: &[(&str, &str)]) -> Page {
        let mut request = self.client.post(self.url(path)).form(form);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.read(request.send().await.expect("POST")).await
    }

    /// Posts a form with this browser's CSRF token, as the page's form would.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        let token = self.csrf();
        let mut fields = form.to_vec();
        fields.push(("csrf_token", &token));
        self.post_raw(path, &fields, &[]).await
    }

    /// Posts as htmx does: token in the header, `HX-Request: true`.
    pub async fn post_htmx(&self, path: &str, form: &[(&str, &str)]) -> Page {
        let token = self.csrf();
        self.post_raw(path, form, &[("HX-Request", "true"), ("X-CSRF-Token", &token)]).await
    }

    pub async fn sign_up(&self, email: &str, password: &str) -> Page {
        self.get("/signup").await;
        self.post("/signup", &[("email", email), ("password", password)]).await
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> Page {
        self.get("/signin").await;
        self.post("/signin", &[("email", email), ("password", password)]).await
    }

    /// Creates a task through the page's form and returns its id.
    pub async fn create_task(&self, title: &str) -> i64 {
        self.get("/tasks").await;
        let created = self.post("/tasks", &[("title", title)]).await;
        assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
        let list = self.get("/tasks").await;
        *list.task_ids().first().expect("the new task is listed first")
    }
}

/// Runs each named test (an `async fn(TestApp)`) once per backend.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let app = $crate::common::TestApp::spawn($crate::common::Backend::Sqlite).await.expect("sqlite");
                    super::$name(app).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    if let Some(app) = $crate::common::TestApp::spawn($crate::common::Backend::Postgres).await {
                        super::$name(app).await;
                    }
                }
            )*
        }
    };
}
