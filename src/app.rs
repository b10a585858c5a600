//! Application state, the router with its layer stack, and serving with
//! graceful shutdown.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    Router,
    extract::{Request, State},
    http::{HeaderName, HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::get,
};
use tower::ServiceBuilder;
use tower_cookies::CookieManagerLayer;
use tower_http::{
    catch_panic::CatchPanicLayer,
    compression::CompressionLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    set_header::SetResponseHeaderLayer,
    timeout::TimeoutLayer,
    trace::{DefaultOnResponse, TraceLayer},
};
use tracing::Level;

use crate::{
    api,
    auth::{password::Passwords, tokens::Keys},
    config::Config,
    db::{Db, RowSecurity},
    error::{AppError, render_error},
    mail::Mailer,
    web,
};

#[derive(Clone, Debug)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    pub keys: Arc<Keys>,
    pub passwords: Arc<Passwords>,
    pub mailer: Arc<Mailer>,
}

impl AppState {
    pub fn new(config: Config, db: Db) -> Self {
        // One argon2 run per core at most: more would only queue in the
        // blocking pool while holding 19 MiB each.
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let mailer = Mailer::from_config(&config).unwrap_or_else(|err| {
            // Config checked SMTP_URL already; this cannot happen, but never drop mail silently.
            tracing::error!(error = %err, "SMTP_URL unusable; writing mail to the outbox instead");
            Mailer::Outbox(config.data_dir.join("outbox"))
        });
        AppState {
            db,
            mailer: Arc::new(mailer),
            keys: Arc::new(Keys::new(&config.jwt_secret)),
            passwords: Arc::new(Passwords::new(cores)),
            config: Arc::new(config),
        }
    }
}

/// `default-src 'self'` and no `unsafe-inline` anywhere: every script and
/// style is a file under /static.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// The whole application: pages, operations endpoints, static files, and the
/// layers every response passes through.
pub fn build_app(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let trace = TraceLayer::new_for_http()
        .make_span_with(|request: &Request| {
            let request_id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            // The path only: query strings may carry search text or tokens.
            tracing::info_span!("request", request_id, method = %request.method(), path = %request.uri().path())
        })
        .on_request(())
        .on_response(DefaultOnResponse::new().level(Level::INFO));

    let headers = ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ))
        .layer(SetResponseHeaderLayer::overriding(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::overriding(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("permissions-policy"),
            HeaderValue::from_static("camera=(), microphone=(), geolocation=(), interest-cohort=()"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ))
        // Pages show private data: no shared or back-forward caches keep them.
        .layer(SetResponseHeaderLayer::if_not_present(header::CACHE_CONTROL, HeaderValue::from_static("no-store")));

    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/static/{file}", get(web::assets::serve))
        .merge(api::router(&state))
        .merge(web::router(&state))
        .with_state(state)
        .layer(
            ServiceBuilder::new()
                // Our own id for every request: a client's x-request-id is
                // replaced, so nobody outside chooses what the logs say.
                .layer(axum::middleware::map_request(|mut request: Request| async move {
                    request.headers_mut().remove("x-request-id");
                    request
                }))
                .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
                .layer(trace)
                .layer(PropagateRequestIdLayer::new(request_id))
                .layer(headers)
                .layer(CatchPanicLayer::custom(|_| {
                    tracing::error!("handler panicked");
                    render_error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "Something went wrong",
                        "An unexpected error happened on our side. Try again.",
                    )
                }))
                .layer(CompressionLayer::new())
                .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, Duration::from_secs(30)))
                .layer(CookieManagerLayer::new())
                .layer(axum::middleware::from_fn(run_to_completion)),
        )
}

/// `tokio::spawn`, keeping the current span (the request's, with its id), so
/// work a request hands to a task of its own still logs as part of it.
pub fn spawn_in_request<F>(work: F) -> tokio::task::JoinHandle<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    use tracing::Instrument;
    tokio::spawn(work.instrument(tracing::Span::current()))
}

/// Runs the rest of the request as a task of its own, so a client that goes
/// away (or the timeout above) stops waiting for the answer but does not
/// cancel the work half-way: a future dropped at an `await` could leave a
/// transaction begun and never finished on a pooled connection (sqlx's
/// cancelled-`BEGIN` bug, sqlx issue 4385), or a change made without its
/// audit event. A panic is passed on to the panic guard.
async fn run_to_completion(request: Request, next: Next) -> Response {
    match spawn_in_request(next.run(request)).await {
        Ok(response) => response,
        Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
        Err(_) => AppError::internal("request task cancelled").into_response(),
    }
}

async fn healthz() -> &'static str {
    "ok"
}

/// 200 while the database answers; the body says which database, and on
/// PostgreSQL whether row-level security is on.
async fn readyz(State(state): State<AppState>) -> Response {
    if state.db.ping().await {
        database_mode(&state).into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
    }
}

fn database_mode(state: &AppState) -> String {
    match &state.db {
        Db::Sqlite(_) => "ready: SQLite".into(),
        Db::Postgres(_) => format!("ready: PostgreSQL, {}", state.config.pool.row_security.describe()),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("DATABASE_URL: cannot open the database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("DATABASE_URL: cannot apply migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("BIND_ADDR: cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("server error: {0}")]
    Serve(std::io::Error),
    #[error("{0}")]
    Usage(String),
}

/// `doable user activate|deactivate EMAIL`: false when there is no such
/// account. A deactivated user can neither sign in nor use a session they
/// already have (every session check joins `users.is_active`).
pub async fn set_user_active(config: &Config, email: &str, active: bool) -> Result<bool, StartError> {
    let email = crate::domain::Email::for_lookup(email).map_err(|problem| StartError::Usage(problem.to_owned()))?;
    let db = Db::connect_with(&config.database_url, &config.pool).await?;
    let changed = crate::db::users::set_active(&db, &email, active)
        .await
        .map_err(|err| StartError::Usage(format!("could not update the account: {err}")))?;
    db.close().await;
    Ok(changed)
}

/// Connects, retrying with backoff while the database is unreachable (it may
/// be starting alongside us, or a serverless one waking up), for at most
/// `DATABASE_CONNECT_RETRY_SECONDS`.
async fn connect_with_retry(config: &Config) -> Result<Db, StartError> {
    let deadline = tokio::time::Instant::now() + config.connect_retry;
    let mut wait = Duration::from_millis(250);
    loop {
        match Db::connect_with(&config.database_url, &config.pool).await {
            Ok(db) => return Ok(db),
            Err(err @ (sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Tls(_)))
                if tokio::time::Instant::now() + wait < deadline =>
            {
                tracing::warn!(error = %err, retry_in_ms = wait.as_millis() as u64, "database unreachable; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
            Err(err) => return Err(err.into()),
        }
    }
}

/// Connects, migrates, and serves until SIGTERM or Ctrl-C, then lets
/// in-flight requests finish.
pub async fn run(config: Config) -> Result<(), StartError> {
    let shutdown = shutdown_signal();
    let db = connect_with_retry(&config).await?;
    let addr = config.bind_addr;
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|source| StartError::Bind { addr, source })?;
    tracing::info!(%addr, "doable is listening on http://{addr}");
    if let Db::Postgres(_) = db {
        match &config.pool.row_security {
            RowSecurity::Off => tracing::warn!(
                "PostgreSQL: row-level security off (DATABASE_ROW_LEVEL_SECURITY=off); only the application's filters keep users apart"
            ),
            mode => tracing::info!("PostgreSQL: {}", mode.describe()),
        }
    }
    let state = AppState::new(config, db.clone());
    if let Err(err) = state.passwords.warm_up().await {
        tracing::error!(error = %err, "could not prepare the dummy password hash");
    }
    tokio::spawn(purge_periodically(state.db.clone()));
    let listener =
        crate::listener::GuardedListener::new(listener, state.config.connections, state.config.trusted_proxies.clone());
    let app = build_app(state);
    axum::serve(listener, app.into_make_service_with_connect_info::<crate::listener::Peer>())
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(StartError::Serve)?;
    db.close().await;
    tracing::info!("shut down cleanly");
    Ok(())
}

/// Hourly: forgets old throttle counters, expired sessions, reset links and
/// sign-up requests, and deletions long past their undo window.
async fn purge_periodically(db: Db) {
    let mut every_hour = tokio::time::interval(Duration::from_secs(3600));
    loop {
        every_hour.tick().await;
        if let Err(err) = crate::db::housekeeping::purge(&db, time::Duration::days(1)).await {
            tracing::warn!(error = %err, "purge failed; will try again in an hour");
        }
    }
}

/// Resolves on SIGTERM or Ctrl-C. The handlers are installed before this
/// returns, so a signal that arrives right after start-up is not lost.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let (mut terminate, mut interrupt) = {
        use tokio::signal::unix::{SignalKind, signal};
        (signal(SignalKind::terminate()).ok(), signal(SignalKind::interrupt()).ok())
    };
    async move {
        #[cfg(unix)]
        {
            let terminate = async {
                match terminate.as_mut() {
                    Some(signal) => signal.recv().await,
                    None => std::future::pending().await,
                }
            };
            let interrupt = async {
                match interrupt.as_mut() {
                    Some(signal) => signal.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = terminate => {},
                _ = interrupt => {},
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutdown signal received; draining in-flight requests");
    }
}

impl From<AppError> for Response {
    fn from(err: AppError) -> Self {
        err.into_response()
    }
}
