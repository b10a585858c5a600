//! SQLite's statement deadline. SQLite has no `statement_timeout`: a
//! progress handler, called every [`PROGRESS_STEPS`] virtual-machine steps
//! of a running statement, interrupts one that has run for longer than the
//! deadline since it began. So a runaway statement ends as on PostgreSQL —
//! the request answers 503 — and a shutdown waits for none longer than that.
//!
//! When each statement begins is told by SQLite itself (`sqlite3_trace_v2`
//! with `SQLITE_TRACE_STMT`, on the connection's own thread), so both hooks
//! are set once, when the connection opens. Arming a deadline each time a
//! connection is lent would cost every request a round trip to the
//! connection's thread (sqlx runs each SQLite connection on a thread of its
//! own), some 6% of a task list's time.

use std::{
    ffi::{c_int, c_uint, c_void},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

/// Virtual-machine steps between deadline checks: well under a millisecond.
const PROGRESS_STEPS: i32 = 20_000;

/// When the connection's current statement began, in nanoseconds since `base`.
struct Began {
    base: Instant,
    at: AtomicU64,
}

impl Began {
    fn now(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// Sets the deadline on a new connection: each statement may run `timeout`.
pub(super) async fn arm(conn: &mut sqlx::SqliteConnection, timeout: Duration) -> Result<(), sqlx::Error> {
    let began = Arc::new(Began { base: Instant::now(), at: AtomicU64::new(0) });
    let mut handle = conn.lock_handle().await?;
    // SAFETY: `db` is this connection's open handle, held locked. The
    // context pointer stays valid while SQLite may call `statement_began`:
    // the progress handler below owns an `Arc` of it, and sqlx drops that
    // handler only as the connection closes, when no statement runs any
    // more. `statement_began` only stores a number and cannot panic.
    let status = unsafe {
        libsqlite3_sys::sqlite3_trace_v2(
            handle.as_raw_handle().as_ptr(),
            libsqlite3_sys::SQLITE_TRACE_STMT as c_uint,
            Some(statement_began),
            Arc::as_ptr(&began).cast_mut().cast::<c_void>(),
        )
    };
    if status != libsqlite3_sys::SQLITE_OK {
        return Err(sqlx::Error::Configuration("SQLite refused the statement trace hook".into()));
    }
    let limit = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
    handle.set_progress_handler(PROGRESS_STEPS, move || {
        began.now().saturating_sub(began.at.load(Ordering::Relaxed)) < limit
    });
    Ok(())
}

/// SQLite's `SQLITE_TRACE_STMT` callback: a statement (or a trigger's
/// program within one) begins.
unsafe extern "C" fn statement_began(
    _kind: c_uint,
    context: *mut c_void,
    _statement: *mut c_void,
    _sql: *mut c_void,
) -> c_int {
    // SAFETY: `context` is the `Began` that `arm` registered, kept alive by
    // the connection's progress handler (see there).
    let began = unsafe { &*context.cast::<Began>() };
    began.at.store(began.now(), Ordering::Relaxed);
    0
}
