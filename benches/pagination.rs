//! How the cost of a task-list page grows with its depth, on a 10,000-task
//! list: keyset pages (what the API's `cursor` and the pages' next/previous
//! links use) against OFFSET pages (what a bare `page=N` falls back to).
//!
//! `cargo bench --bench pagination` — SQLite in a temp directory; set
//! `DOABLE_BENCH_POSTGRES_URL` to measure PostgreSQL too.

use std::time::{Duration, Instant};

use doable::{
    db::{
        DatabaseUrl, Db,
        tasks::{self, ListQuery, Position, StatusFilter, TaskInput},
        users,
    },
    domain::Email,
};

const TASKS: i64 = 10_000;
const PAGE: i64 = 50;
const RUNS: usize = 300;

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
        let input = TaskInput { title: format!("Task number {n}"), description: None, due_date: None };
        ids.push(tasks::create(&db, owner, &input).await.expect("task").id);
        if n % 4 == 0 {
            tasks::create(&db, other, &input).await.expect("task");
        }
    }
    ids.reverse(); // newest first, as listed
    println!("\n{name}: {TASKS} tasks inserted in {:.1?}", started.elapsed());
    println!("{:<28} {:>12} {:>12}", "page (50 tasks)", "keyset p50", "offset p50");

    for depth in [0, 1_000, 5_000, 9_950] {
        let keyset = if depth == 0 { Position::Offset(0) } else { Position::After(ids[depth as usize - 1]) };
        let keyset_time = median(&db, owner, keyset).await;
        let offset_time = median(&db, owner, Position::Offset(depth)).await;
        println!(
            "{:<28} {:>12.1?} {:>12.1?}",
            format!("tasks {}–{}", depth + 1, depth + PAGE),
            keyset_time,
            offset_time
        );
    }
    db.close().await;
}

async fn median(db: &Db, owner: uuid::Uuid, position: Position) -> Duration {
    let query = ListQuery { status: StatusFilter::All, search: None, position, limit: PAGE };
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let started = Instant::now();
        let page = tasks::list(db, owner, &query).await.expect("list");
        times.push(started.elapsed());
        assert_eq!(page.tasks.len() as i64, PAGE);
    }
    times.sort();
    times[RUNS / 2]
}
