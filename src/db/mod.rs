//! The only place with SQL.
//!
//! doable runs on SQLite (the default) or PostgreSQL, chosen by the scheme of
//! `DATABASE_URL`. sqlx's `Any` driver cannot carry UUIDs or timestamps, so we
//! keep one typed pool per backend in [`Db`] and write each statement once:
//! [`on_pool!`] expands the same query code for both pools, and every
//! statement uses only SQL both dialects accept (`$1`-style parameters in
//! ascending order, `lower(..) LIKE`, `RETURNING`).
//!
//! Every function that touches a user's rows takes a [`UserDb`], made from
//! the owner's id, which callers get only from the authenticated session,
//! and filters by it. On
//! PostgreSQL the database enforces that too: the pool works as the role
//! `doable_app_<database>`, which owns no table, and row-level security (migration
//! 0003) shows it only the rows of the user named in the transaction by
//! [`as_user!`]. A statement that forgot its owner filter still sees nothing
//! of anyone else's.

pub mod audit;
mod deadline;
pub mod housekeeping;
pub mod labels;
pub mod lists;
pub mod resets;
pub mod sessions;
pub mod signups;
pub mod tasks;
pub mod throttle;
pub mod users;

use std::{str::FromStr, time::Duration};

use sqlx::{
    ConnectOptions, Connection, Executor,
    postgres::{PgConnectOptions, PgPool, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous},
};
use time::OffsetDateTime;
use uuid::Uuid;

/// A parsed `DATABASE_URL`.
#[derive(Clone, Debug)]
pub enum DatabaseUrl {
    Sqlite(SqliteConnectOptions),
    Postgres(PgConnectOptions),
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<Self, String> {
        let scheme = url.split(':').next().unwrap_or_default().to_ascii_lowercase();
        match scheme.as_str() {
            "sqlite" => SqliteConnectOptions::from_str(url)
                .map(Self::Sqlite)
                .map_err(|err| format!("not a valid SQLite URL ({err})")),
            "postgres" | "postgresql" => PgConnectOptions::from_str(url)
                .map(Self::Postgres)
                .map_err(|err| format!("not a valid PostgreSQL URL ({err})")),
            _ => Err("expected a URL starting with sqlite:, postgres:// or postgresql://".into()),
        }
    }
}

#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePools),
    Postgres(PgPool),
}

/// SQLite lets one connection write at a time. Rather than let many
/// connections collide and retry in SQLite's sleeping busy handler, every
/// write goes through one writing connection, for which writers queue in
/// the pool's fair, asynchronous wait; reads share the other connections,
/// which WAL lets run beside the writer. The readers are `query_only`, so a
/// write sent down the wrong path fails loudly instead of contending.
#[derive(Clone, Debug)]
pub struct SqlitePools {
    pub reader: SqlitePool,
    pub writer: SqlitePool,
}

impl SqlitePools {
    /// One pool for both (the tests' unrestricted view of the database).
    pub fn single(pool: SqlitePool) -> Self {
        SqlitePools { reader: pool.clone(), writer: pool }
    }
}

/// Runs `$body` with `$pool` bound to whichever pool `$db` holds: on SQLite
/// the writing connection (any statement may run there), or written
/// `on_pool!(db, reading pool => …)` a reading one. The body is compiled once
/// per backend, so each arm is type-checked against its driver. Exported for
/// the integration tests, which inspect the database directly.
#[macro_export]
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite(pools) => {
                let $pool = &pools.writer;
                $body
            }
            $crate::db::Db::Postgres($pool) => $body,
        }
    };
    ($db:expr, reading $pool:ident => $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite(pools) => {
                let $pool = &pools.reader;
                $body
            }
            $crate::db::Db::Postgres($pool) => $body,
        }
    };
}
pub use crate::on_pool;

/// One user's rows: the only way to the tables under row-level security
/// (tasks, sessions with their spent refresh tokens, security events) and to
/// the user's own account row. Built from the owner id the authenticated
/// session gives (`db.for_user(user.id)`), or, for the two lookups that find
/// an owner before anyone is signed in (a refresh token, a reset link), from
/// the owner they found. Every statement on a table under row-level
/// security runs in [`as_user!`], which takes nothing but this, so it can
/// neither forget whose rows it is about nor, on PostgreSQL, the transaction
/// row-level security reads the owner from. (The account row, in `users`,
/// has no policy: it is read and written by its primary key, the owner.)
#[derive(Clone, Copy, Debug)]
pub struct UserDb<'a> {
    db: &'a Db,
    owner: Uuid,
    /// The session to find live before each [`as_user!`] body, in the same
    /// transaction; `None` when the caller checked it already (or acts for
    /// no session: a refresh token's, a reset link's owner).
    session: Option<Uuid>,
}

impl Db {
    /// The rows of `owner`, who must come from the authenticated session,
    /// checked by the caller.
    pub fn for_user(&self, owner: Uuid) -> UserDb<'_> {
        UserDb { db: self, owner, session: None }
    }

    /// The rows of `owner`, reached only while `session` (a verified token's
    /// claim) is live: every [`as_user!`] on them first checks it in its own
    /// transaction, and fails with [`DbError::SessionEnded`] if it is not. A
    /// request that acts through this needs no transaction of its own for
    /// the check (decision record 0016).
    pub fn for_session(&self, owner: Uuid, session: Uuid) -> UserDb<'_> {
        UserDb { db: self, owner, session: Some(session) }
    }
}

impl UserDb<'_> {
    /// Whose rows these are.
    pub fn owner(&self) -> Uuid {
        self.owner
    }

    /// The session every body checks first, if any.
    pub(crate) fn session(&self) -> Option<Uuid> {
        self.session
    }

    /// The same rows, for a statement that checks the session itself
    /// (`tasks::read_list`) or runs where no session check can (the check
    /// is already done).
    pub(crate) fn unchecked(self) -> Self {
        UserDb { session: None, ..self }
    }

    /// The first statement of an [`as_user!`] body on SQLite (in its
    /// transaction, if it has one): that the session, if any, is live.
    #[doc(hidden)]
    pub async fn check_session(&self, conn: &mut sqlx::SqliteConnection) -> DbResult<()> {
        let Some(session) = self.session else { return Ok(()) };
        let live = sqlx::query_scalar::<_, i64>(sessions::IS_LIVE)
            .bind(session)
            .bind(self.owner)
            .bind(now())
            .fetch_optional(conn)
            .await?;
        live.map(drop).ok_or(DbError::SessionEnded)
    }

    /// What opens a transaction on PostgreSQL: the session check, if any
    /// (migration 0011: it fails before BEGIN, leaving the connection
    /// outside a transaction, or becomes part of it), then BEGIN (`READ
    /// ONLY` for a body that only reads) and the settings row-level security
    /// reads, all in one round trip. The role again, for this transaction:
    /// the connection's own may be lost behind a pooler that shares server
    /// connections. And generic plans: a user's statements, all keyed by
    /// the owner, are planned once rather than at every execution (decision
    /// record 0026). A Uuid prints as hex digits and hyphens only, so
    /// formatting it into SQL is safe. Public for the tests, which plan
    /// statements as the app does.
    #[doc(hidden)]
    pub fn postgres_begin(&self, read_only: bool) -> String {
        let check = match self.session {
            Some(session) => format!("SELECT doable_session_live('{session}', '{}'); ", self.owner),
            None => String::new(),
        };
        let begin = if read_only { "BEGIN READ ONLY" } else { "BEGIN" };
        format!(
            "{check}{begin}; SELECT set_config('role', doable_app_role(), true), set_config('app.user_id', '{}', true), \
             set_config('plan_cache_mode', 'force_generic_plan', true)",
            self.owner
        )
    }

    fn is_postgres(&self) -> bool {
        matches!(self.db, Db::Postgres(_))
    }
}

/// Runs `$body` on behalf of the owner of `$scope` (a [`UserDb`]), with
/// `$conn` a connection (use it as `&mut *$conn`). On PostgreSQL the body
/// runs in a transaction that starts by naming the user in `app.user_id`,
/// the setting the row-level security policies compare with, so it sees and
/// writes only that user's rows. On SQLite, which has no policies, it runs on
/// a reading connection; written `as_user!(scope, writing conn => …)`, on the
/// writing one (statements that write, each its own transaction); written
/// `as_user!(scope, atomically conn => …)`, in a transaction on the writing
/// one (several statements that must land together). A transaction that
/// may write commits when the body finishes; a `?` inside returns early and
/// it rolls back. One that only reads is never committed (decision record
/// 0025).
macro_rules! as_user {
    ($scope:expr, $conn:ident => $body:expr) => {
        $crate::db::as_user!(@plain reader, $scope, $conn => $body)
    };
    ($scope:expr, writing $conn:ident => $body:expr) => {
        $crate::db::as_user!(@plain writer, $scope, $conn => $body)
    };
    (@plain $which:ident, $scope:expr, $conn:ident => $body:expr) => {{
        let scope: $crate::db::UserDb<'_> = $scope;
        match scope.db {
            $crate::db::Db::Sqlite(pools) => {
                let mut connection = pools.$which.acquire().await?;
                let $conn = &mut *connection;
                scope.check_session(&mut *$conn).await?;
                $body
            }
            $crate::db::Db::Postgres(pool) => $crate::db::as_user!(@postgres $which pool, scope, $conn => $body),
        }
    }};
    ($scope:expr, atomically $conn:ident => $body:expr) => {{
        let scope: $crate::db::UserDb<'_> = $scope;
        match scope.db {
            $crate::db::Db::Sqlite(pools) => {
                // IMMEDIATE: the write lock from the start, so a transaction
                // that reads first cannot fail to upgrade when another
                // process (the `doable user` command) writes in between.
                let mut tx = pools.writer.begin_with("BEGIN IMMEDIATE").await?;
                let $conn = &mut *tx;
                scope.check_session(&mut *$conn).await?;
                let out = $body;
                tx.commit().await?;
                out
            }
            $crate::db::Db::Postgres(pool) => $crate::db::as_user!(@postgres writer pool, scope, $conn => $body),
        }
    }};
    (@postgres reader $pool:ident, $scope:expr, $conn:ident => $body:expr) => {{
        // A body that only reads (on SQLite it runs on a `query_only`
        // connection) runs in a READ ONLY transaction, which is never
        // committed: there is nothing to commit. Dropped, it queues a
        // ROLLBACK that goes out with the ping sqlx sends on every connection
        // the pool takes back, so the request waits on two round trips (BEGIN
        // with the settings, the body's statement), not three, and the server
        // answers one exchange fewer (decision record 0025).
        let mut tx = $pool.begin_with($scope.postgres_begin(true)).await?;
        let $conn = &mut *tx;
        let out = $body;
        drop(tx);
        out
    }};
    (@postgres writer $pool:ident, $scope:expr, $conn:ident => $body:expr) => {{
        let mut tx = $pool.begin_with($scope.postgres_begin(false)).await?;
        let $conn = &mut *tx;
        let out = $body;
        tx.commit().await?;
        out
    }};
}
pub(crate) use as_user;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    #[error("unique constraint violated: {0}")]
    Conflict(#[source] sqlx::Error),
    /// A row referred to is gone: to the user, not found.
    #[error("a referenced row is gone: {0}")]
    Gone(#[source] sqlx::Error),
    /// A [`UserDb::for_session`] whose session is revoked or expired, or
    /// whose account is deactivated: nothing ran.
    #[error("the session has ended")]
    SessionEnded,
    /// A write would make labels past the owner's quota (this many): nothing
    /// was written.
    #[error("the account holds {0} labels")]
    LabelQuota(i64),
    #[error("database error: {0}")]
    Other(#[source] sqlx::Error),
}

impl From<sqlx::Error> for DbError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            // Can't reach a healthy server: a socket error, TLS, a peer that
            // hangs up mid-handshake (Protocol), or no connection free in time.
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::WorkerCrashed => DbError::Unavailable(err),
            // PostgreSQL: connection exceptions (class 08), shutting down or
            // not yet accepting connections (57P01–57P03), and a transaction
            // chosen to end a deadlock (40P01; nothing of it was written):
            // each worth trying again, a 503 with Retry-After, never a 500.
            sqlx::Error::Database(db)
                if db.code().is_some_and(|code| {
                    code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03" | "40P01")
                }) =>
            {
                DbError::Unavailable(err)
            }
            // A statement stopped at its deadline: PostgreSQL's
            // statement_timeout (57014), SQLite's interrupt (9).
            sqlx::Error::Database(db)
                if db.code().is_some_and(|code| {
                    &*code == "57014" || (db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() && &*code == "9")
                }) =>
            {
                DbError::Unavailable(err)
            }
            sqlx::Error::Database(db) if db.is_unique_violation() => DbError::Conflict(err),
            // A row the statement refers to went away since it was checked
            // (a list deleted while a task is added to it).
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => DbError::Gone(err),
            // doable_session_live (migration 0011).
            sqlx::Error::Database(db) if db.code().is_some_and(|code| code == "DA401") => DbError::SessionEnded,
            // SQLite's BUSY (5) and LOCKED (6), in any extended form (the low
            // byte is the primary code): the busy timeout ran out.
            sqlx::Error::Database(db)
                if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() && {
                    let code = db.code().and_then(|c| c.parse::<i32>().ok()).unwrap_or(0);
                    matches!(code & 0xff, 5 | 6)
                } =>
            {
                DbError::Unavailable(err)
            }
            _ => DbError::Other(err),
        }
    }
}

pub type DbResult<T> = Result<T, DbError>;

/// How text is compared regardless of case (task search, list names): in
/// Rust, with Unicode's lower-casing, because SQLite's `lower()` folds only
/// ASCII.
pub(crate) fn fold(text: &str) -> String {
    text.to_lowercase()
}

/// Now, in UTC, in whole seconds. SQLite keeps timestamps as RFC 3339 text,
/// which sorts correctly only while every value has the same shape: with no
/// fraction of a second, comparisons like `expires_at > $1` are exact there too.
pub fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(0).unwrap_or(now)
}

/// How the PostgreSQL pool is kept to one user's rows (migration 0003).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum RowSecurity {
    /// Row-level security, working as the role migration 0003 makes for the
    /// database, `doable_app_<database>` (the DATABASE_URL user needs
    /// CREATEROLE for that).
    #[default]
    OwnRole,
    /// Row-level security, working as a role a DBA made (`DATABASE_APP_ROLE`).
    Role(String),
    /// No row-level security (`DATABASE_ROW_LEVEL_SECURITY=off`): the pool
    /// works as the DATABASE_URL user, and only the application's filters
    /// keep users apart.
    Off,
}

impl RowSecurity {
    /// For the start-up log and `/readyz`.
    pub fn describe(&self) -> String {
        match self {
            RowSecurity::OwnRole => "row-level security on (role doable_app_<database>)".into(),
            RowSecurity::Role(role) => format!("row-level security on (role {role}, from DATABASE_APP_ROLE)"),
            RowSecurity::Off => "row-level security off (DATABASE_ROW_LEVEL_SECURITY=off)".into(),
        }
    }
}

/// How the pool behaves; from `DATABASE_*` settings.
#[derive(Clone, Debug)]
pub struct PoolSettings {
    pub max_connections: u32,
    /// How long a request waits for a free connection before answering 503.
    pub acquire_timeout: Duration,
    /// A statement running longer is stopped: by PostgreSQL's
    /// `statement_timeout`, on SQLite by a progress handler.
    pub statement_timeout: Duration,
    /// PostgreSQL only.
    pub row_security: RowSecurity,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(10),
            row_security: RowSecurity::default(),
        }
    }
}

fn configuration(message: String) -> sqlx::Error {
    sqlx::Error::Configuration(message.into())
}

/// Before migrating: tells migration 0003 which role to set up (it reads
/// `doable.app_role` and `doable.row_level_security`), and, while 0003 has not
/// run yet, checks that it can, so that a user without CREATEROLE gets one
/// line naming the missing privilege and both ways out instead of a failed
/// migration. Also accepts the record of 0003 as first released (before it
/// read those settings; with them unset it does the same). Returns the role
/// the application will work as.
async fn prepare_row_security(owner: &mut sqlx::PgConnection, mode: &RowSecurity) -> Result<String, sqlx::Error> {
    let (named, off) = match mode {
        RowSecurity::OwnRole => ("", ""),
        RowSecurity::Role(role) => (role.as_str(), ""),
        RowSecurity::Off => ("", "off"),
    };
    let (user, default_role, may_create_roles): (String, String, bool) = sqlx::query_as(
        "SELECT current_user::text, ('doable_app_' || current_database())::name::text,
                (SELECT rolcreaterole OR rolsuper FROM pg_roles WHERE rolname = current_user)
         FROM (SELECT set_config('doable.app_role', $1, false), set_config('doable.row_level_security', $2, false)) AS s",
    )
    .bind(named)
    .bind(off)
    .fetch_one(&mut *owner)
    .await?;
    let role = match mode {
        RowSecurity::OwnRole => default_role,
        RowSecurity::Role(role) => role.clone(),
        RowSecurity::Off => return Ok(user),
    };
    let bookkeeping: bool =
        sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL").fetch_one(&mut *owner).await?;
    let migrated: Option<Vec<u8>> = if bookkeeping {
        sqlx::query_scalar("SELECT checksum FROM _sqlx_migrations WHERE version = 3")
            .fetch_optional(&mut *owner)
            .await?
    } else {
        None
    };
    if let Some(checksum) = migrated {
        if crate::digest::hex(&checksum) == MIGRATION_0003_AS_RELEASED {
            let current = sqlx::migrate!("migrations/postgres")
                .iter()
                .find(|m| m.version == 3)
                .map(|m| m.checksum.to_vec())
                .unwrap_or_default();
            sqlx::query("UPDATE _sqlx_migrations SET checksum = $1 WHERE version = 3")
                .bind(current)
                .execute(&mut *owner)
                .await?;
        }
        return Ok(role);
    }
    let (exists, member): (bool, bool) = sqlx::query_as(
        "SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = $1),
                EXISTS (SELECT FROM pg_roles WHERE rolname = $1) AND pg_has_role(current_user, $1, 'MEMBER')",
    )
    .bind(&role)
    .fetch_one(&mut *owner)
    .await?;
    let ways_out = "either have a DBA create a NOLOGIN role, grant it to this user and name it in DATABASE_APP_ROLE, \
                    or set DATABASE_ROW_LEVEL_SECURITY=off to run without row-level security";
    match mode {
        RowSecurity::Role(_) if !exists => Err(configuration(format!(
            "DATABASE_APP_ROLE: no role named {role} exists; create it (CREATE ROLE {role} NOLOGIN) and grant it to {user}"
        ))),
        _ if !exists && !may_create_roles => Err(configuration(format!(
            "the user {user} lacks the CREATEROLE privilege, which row-level security needs to make \
             its role {role}; {ways_out}"
        ))),
        _ if exists && !member && !may_create_roles => Err(configuration(format!(
            "the user {user} is not a member of the role {role} and lacks CREATEROLE to join it; \
             have a DBA run GRANT {role} TO {user}, or {ways_out}"
        ))),
        _ => Ok(role),
    }
}

/// SHA-384 of migration 0003 before it read the row-security settings.
const MIGRATION_0003_AS_RELEASED: &str =
    "531078eddc0f37da82b49384d3a2076b70f7f1cd6f848c75cce1d86f06661e2038cb1da069f36c256278a031740c09a0";

/// How long a PostgreSQL connection may sit in the pool before it is pinged
/// again when lent out.
const IDLE_BEFORE_PING: Duration = Duration::from_secs(1);

impl Db {
    /// Connects with default pool settings and applies the migrations.
    pub async fn connect(url: &DatabaseUrl) -> Result<Self, sqlx::Error> {
        Self::connect_with(url, &PoolSettings::default()).await
    }

    /// Connects and applies the embedded migrations of the chosen backend.
    /// (sqlx takes a database-wide lock while migrating, so instances
    /// starting together apply each migration once.)
    pub async fn connect_with(url: &DatabaseUrl, settings: &PoolSettings) -> Result<Self, sqlx::Error> {
        match url {
            DatabaseUrl::Sqlite(options) => {
                if let Some(dir) = options.get_filename().parent()
                    && !dir.as_os_str().is_empty()
                {
                    // Owner only, like the rest of the data directory.
                    crate::config::create_private_dir(dir)?;
                }
                // WAL with synchronous=NORMAL: a commit is in the log (in the
                // OS's cache) before it is acknowledged, so a killed process
                // loses nothing; the log is synced to disk at checkpoints, so
                // a power cut may lose the last commits, never consistency.
                let options = options
                    .clone()
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(5))
                    .log_statements(tracing::log::LevelFilter::Trace);
                // Migrations on a connection of their own: they are not held
                // to the statement deadline below.
                let mut migrating = options.connect().await?;
                sqlx::migrate!("migrations/sqlite").run(&mut migrating).await?;
                migrating.close().await?;
                let timeout = settings.statement_timeout;
                let pool = |connections: u32| {
                    SqlitePoolOptions::new()
                        .max_connections(connections)
                        .acquire_timeout(settings.acquire_timeout)
                        // sqlx would ping each connection before lending it: a
                        // round trip to the connection's thread per request,
                        // to test a local file that cannot go away.
                        .test_before_acquire(false)
                        .after_connect(move |conn, _| Box::pin(deadline::arm(conn, timeout)))
                };
                let writer = pool(1).connect_with(options.clone()).await?;
                let reader = pool(settings.max_connections).connect_with(options.pragma("query_only", "ON")).await?;
                Ok(Db::Sqlite(SqlitePools { reader, writer }))
            }
            DatabaseUrl::Postgres(options) => {
                let timeout = format!("{}ms", settings.statement_timeout.as_millis());
                let options = options
                    .clone()
                    .options([("statement_timeout", timeout.as_str())])
                    .log_statements(tracing::log::LevelFilter::Trace);
                // Migrate as the DATABASE_URL user, who owns the tables...
                let mut owner = options.connect().await?;
                let role = prepare_row_security(&mut owner, &settings.row_security).await?;
                sqlx::migrate!("migrations/postgres").run(&mut owner).await?;
                // The role is fixed when migration 0003 first ran: a database
                // set up in another mode, or restored under another name
                // (whose role another database may be using), is refused.
                let chosen: String = sqlx::query_scalar("SELECT doable_app_role()::text").fetch_one(&mut owner).await?;
                owner.close().await?;
                if chosen != role {
                    return Err(configuration(format!(
                        "this database uses the role {chosen}, made for another database or with other settings \
                         (these say {role}: {}); set DATABASE_APP_ROLE or DATABASE_ROW_LEVEL_SECURITY to match, \
                         or see Backups in the README",
                        settings.row_security.describe()
                    )));
                }
                // ...and serve as the role that owns none of them.
                let pool = PgPoolOptions::new()
                    .max_connections(settings.max_connections)
                    .acquire_timeout(settings.acquire_timeout)
                    // sqlx pings every connection before lending it: a round
                    // trip before each transaction. A connection that went
                    // back to the pool moments ago passed the ping sqlx sends
                    // on release, so only one idle for longer (which the
                    // server or a proxy may have closed meanwhile) is tested.
                    .test_before_acquire(false)
                    .before_acquire(|conn, meta| {
                        Box::pin(async move {
                            if meta.idle_for >= IDLE_BEFORE_PING {
                                conn.ping().await?;
                            }
                            Ok(true)
                        })
                    })
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            // `SET ROLE` to the role migration 0003 made for
                            // this database: it may read and write the tables
                            // but owns none, so row-level security applies.
                            conn.execute("SELECT set_config('role', doable_app_role(), false)").await?;
                            Ok(())
                        })
                    })
                    .connect_with(options)
                    .await?;
                // Fail closed: a role that skips the policies (made by hand
                // before us, say) would quietly turn them off.
                let (role, bypasses): (String, bool) = sqlx::query_as(
                    "SELECT rolname::text, rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user",
                )
                .fetch_one(&pool)
                .await?;
                if bypasses && settings.row_security != RowSecurity::Off {
                    return Err(sqlx::Error::Configuration(
                        format!("the role {role} bypasses row-level security; remove SUPERUSER and BYPASSRLS from it")
                            .into(),
                    ));
                }
                Ok(Db::Postgres(pool))
            }
        }
    }

    /// True when the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        on_pool!(self, reading pool => sqlx::query("SELECT 1").execute(pool).await.is_ok())
    }

    pub async fn close(&self) {
        match self {
            Db::Sqlite(pools) => {
                pools.reader.close().await;
                pools.writer.close().await;
            }
            Db::Postgres(pool) => pool.close().await,
        }
    }
}
