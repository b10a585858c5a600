//! Throttle counters: events per bucket over a sliding window, counted
//! before the work they guard (see `auth::throttle` for the buckets).

use time::OffsetDateTime;

use super::{Db, DbResult, now, on_pool};

/// One bucket an attempt counts against: at most `limit` events after `since`.
pub struct Bucket<'a> {
    pub name: &'a str,
    pub limit: i64,
    pub since: OffsetDateTime,
}

/// Counts one event in every bucket if each of them is under its limit, and
/// nothing otherwise: the ids of the counted events, or `None` when some
/// bucket is full. One statement, so on SQLite (one writer at a time, whose
/// write lock is taken before the statement reads) concurrent attempts
/// cannot all see room; on PostgreSQL, where readers do not wait for
/// writers, the buckets' advisory locks make the same statement wait its
/// turn, across instances too.
pub async fn take(db: &Db, buckets: &[Bucket<'_>]) -> DbResult<Option<Vec<i64>>> {
    if buckets.is_empty() {
        return Ok(Some(Vec::new()));
    }
    // One row per bucket with whether it has room; the rows are inserted
    // only if all have. Each bucket's parameters (name, now, since, limit)
    // appear in ascending order, as both dialects' numbering needs.
    let rows: Vec<String> = (0..buckets.len())
        .map(|i| {
            let k = i * 4;
            format!(
                "SELECT ${name} AS bucket, ${at} AS at,
                        CASE WHEN (SELECT count(*) FROM throttle_events WHERE bucket = ${name} AND created_at > ${since})
                                  < ${limit} THEN 1 ELSE 0 END AS ok",
                name = k + 1,
                at = k + 2,
                since = k + 3,
                limit = k + 4
            )
        })
        .collect();
    let sql = format!(
        "INSERT INTO throttle_events (bucket, created_at)
         SELECT bucket, at FROM (SELECT bucket, at, min(ok) OVER () AS all_ok FROM ({}) AS u) AS w
         WHERE all_ok = 1
         RETURNING id",
        rows.join(" UNION ALL ")
    );
    let now = now();
    macro_rules! bound {
        ($query:expr) => {{
            let mut query = $query;
            for bucket in buckets {
                query = query.bind(bucket.name).bind(now).bind(bucket.since).bind(bucket.limit);
            }
            query
        }};
    }
    let ids: Vec<i64> = match db {
        Db::Sqlite(pools) => bound!(sqlx::query_scalar(&sql)).fetch_all(&pools.writer).await?,
        Db::Postgres(pool) => {
            let mut tx = pool.begin().await?;
            // In a fixed order, so two attempts locking the same pair cannot deadlock.
            let mut keys: Vec<&str> = buckets.iter().map(|b| b.name).collect();
            keys.sort_unstable();
            keys.dedup();
            for key in keys {
                sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 7031))")
                    .bind(key)
                    .execute(&mut *tx)
                    .await?;
            }
            // A statement after the locks: under READ COMMITTED it sees every
            // event committed by whoever held them before.
            let ids = bound!(sqlx::query_scalar(&sql)).fetch_all(&mut *tx).await?;
            tx.commit().await?;
            ids
        }
    };
    Ok((ids.len() == buckets.len()).then_some(ids))
}

/// Takes back counted events (a sign-in that succeeded does not count).
pub async fn refund(db: &Db, ids: &[i64]) -> DbResult<()> {
    for id in ids {
        on_pool!(db, pool => {
            sqlx::query("DELETE FROM throttle_events WHERE id = $1").bind(id).execute(pool).await?;
        });
    }
    Ok(())
}

/// How many events `bucket` had after `since`, and when the oldest of them was.
pub async fn count(db: &Db, bucket: &str, since: OffsetDateTime) -> DbResult<(i64, Option<OffsetDateTime>)> {
    let row: (i64, Option<OffsetDateTime>) = on_pool!(db, reading pool => {
        sqlx::query_as("SELECT count(*), min(created_at) FROM throttle_events WHERE bucket = $1 AND created_at > $2")
            .bind(bucket)
            .bind(since)
            .fetch_one(pool)
            .await?
    });
    Ok(row)
}
