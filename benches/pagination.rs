//! How the cost of a task-list page grows with its depth, on a 10,000-task
//! list: keyset pages (what the API's `cursor` and the pages' next/previous
//! links use) against OFFSET pages (what a bare `page=N` falls back to).
//!
//! On PostgreSQL it also measures what row-level security costs one call:
//! the first page through the app (a transaction naming the user, under the
//! policies, as the role `doable_app_<database>`) against the same statement sent bare
//! by the tables' owner, and in a plain transaction.
//!
//! `cargo bench --bench pagination` — SQLite in a temp directory; set
//! `DOABLE_BENCH_POSTGRES_URL` to measure PostgreSQL too.

use std::{
    future::Future,
    time::{Duration, Instant},
};

use doable::{
    db::{
        DatabaseUrl, Db,
        tasks::{self, ListQuery, ParentFilter, Position, Sort, StatusFilter},
        users,
    },
    domain::Email,
};

const TASKS: i64 = 10_000;
const PAGE: i64 = 50;
const RUNS: usize = 300;
const WARM_UP: usize = 50;

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = format!("sqlite://{}/bench.db", dir.path().display());
    bench("SQLite", &sqlite).await;
    match std::env::var("DOABLE_BENCH_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => bench("PostgreSQL", &url).await,
        _ => println!("(set DOABLE_BENCH_POSTGRES_URL to measure PostgreSQL too)"),
    }
}

async fn bench(name: &str, url: &str) {
    let db = Db::connect(&DatabaseUrl::parse(url).expect("url")).await.expect("connect");
    let email = Email::parse(&format!("bench-{}@example.com", uuid::Uuid::new_v4().simple())).unwrap();
    let owner = users::create(&db, &email, None, "not-a-real-hash").await.expect("user").id;
    // A second user's tasks interleaved, so the owner filter has work to do.
    let other = Email::parse(&format!("other-{}@example.com", uuid::Uuid::new_v4().simple())).unwrap();
    let other = users::create(&db, &other, None, "not-a-real-hash").await.expect("user").id;

    let started = Instant::now();
    let mut ids = Vec::with_capacity(TASKS as usize);
    for n in 0..TASKS {
        let input =
            doable::domain::TaskDraft { title: format!("Task number {n}"), ..Default::default() }.parse().unwrap();
        ids.push(created_id(
            tasks::create(db.for_user(owner), &input, None, tasks::Quotas { tasks: i64::MAX, labels: i64::MAX })
                .await
                .expect("task"),
        ));
        if n % 4 == 0 {
            tasks::create(db.for_user(other), &input, None, tasks::Quotas { tasks: i64::MAX, labels: i64::MAX })
                .await
                .expect("task");
        }
    }
    ids.reverse(); // newest first, as listed
    println!("\n{name}: {TASKS} tasks inserted in {:.1?}", started.elapsed());
    println!("{:<28} {:>12} {:>12}", "page (50 tasks)", "keyset p50", "offset p50");

    for depth in [0, 1_000, 5_000, 9_950] {
        let keyset = if depth == 0 {
            Position::Offset(0)
        } else {
            Position::After(Sort::Newest.parse_cursor(&ids[depth as usize - 1].to_string()).expect("an id"))
        };
        let keyset_time = median(&db, owner, keyset).await;
        let offset_time = median(&db, owner, Position::Offset(depth)).await;
        println!(
            "{:<28} {:>12.1?} {:>12.1?}",
            format!("tasks {}–{}", depth + 1, depth + PAGE),
            keyset_time,
            offset_time
        );
    }
    if let Db::Postgres(_) = db {
        row_level_security(&db, url, owner).await;
    }
    db.close().await;
}

async fn median(db: &Db, owner: uuid::Uuid, position: Position) -> Duration {
    let query = ListQuery {
        sort: Sort::Newest,
        view: None,
        list: None,
        priority: None,
        labels: &[],
        parent: ParentFilter::Any,
        status: StatusFilter::All,
        search: None,
        position,
        limit: PAGE,
    };
    median_of(|| async {
        let page = tasks::list(db.for_user(owner), &query).await.expect("list");
        assert_eq!(page.tasks.len() as i64, PAGE);
    })
    .await
}

async fn median_of<F: Future<Output = ()>>(mut run: impl FnMut() -> F) -> Duration {
    // Untimed first: every pooled connection prepares the statement and
    // warms its page cache before anything counts.
    for _ in 0..WARM_UP {
        run().await;
    }
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let started = Instant::now();
        run().await;
        times.push(started.elapsed());
    }
    times.sort();
    times[RUNS / 2]
}

async fn row_level_security(db: &Db, url: &str, owner: uuid::Uuid) {
    const FIRST_PAGE: &str = "SELECT id, title, description, completed, completed_at, due_date, created_at, updated_at
         FROM tasks WHERE user_id = $1 AND deleted_at IS NULL ORDER BY id DESC LIMIT $2";
    let as_owner = sqlx::PgPool::connect(url).await.expect("connect as the owner");
    let first_page = || sqlx::query(FIRST_PAGE).bind(owner).bind(PAGE + 1);

    let bare = median_of(|| async {
        assert_eq!(first_page().fetch_all(&as_owner).await.expect("page").len() as i64, PAGE + 1);
    })
    .await;
    let in_transaction = median_of(|| async {
        let mut tx = as_owner.begin().await.expect("begin");
        assert_eq!(first_page().fetch_all(&mut *tx).await.expect("page").len() as i64, PAGE + 1);
        tx.commit().await.expect("commit");
    })
    .await;
    let through_the_app = median(db, owner, Position::Offset(0)).await;
    println!("\nrow-level security, first page (p50):");
    println!("  bare statement, as the tables' owner      {bare:>10.1?}");
    println!("  in a transaction, as the tables' owner    {in_transaction:>10.1?}");
    println!("  the app: user's transaction, policies on  {through_the_app:>10.1?}");
    as_owner.close().await;
}

fn created_id(created: tasks::Created) -> i64 {
    match created {
        tasks::Created::Task(task) => task.id,
        other => panic!("no room: {other:?}"),
    }
}
