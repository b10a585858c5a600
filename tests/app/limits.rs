//! Per-user limits: what one account may hold (tasks, live sessions, audit
//! trail), met the way a script or an attacker with an account of their own
//! would meet them. Past a limit the answer is a clear 409, never a 500.

use futures::future::join_all;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::api::Api;
use crate::common::{PASSWORD, TestApp, unique_email};

crate::on_both_backends!(
    creating_past_the_task_quota_is_409_on_the_api_and_the_pages,
    a_sign_in_past_the_session_cap_ends_the_least_recently_used_session,
    spent_refresh_tokens_go_with_their_session,
    the_audit_trail_keeps_the_newest_events_up_to_the_cap_and_a_year_at_most,
    a_strangers_guesses_cannot_push_the_owners_history_out,
    the_export_streams_every_task_across_pages,
);

async fn user_id(app: &TestApp, email: &str) -> Uuid {
    doable::on_pool!(&app.unrestricted, pool => {
        sqlx::query_scalar("SELECT id FROM users WHERE email = $1").bind(email).fetch_one(pool).await.unwrap()
    })
}

async fn scalar(app: &TestApp, sql: &str, id: Uuid) -> i64 {
    doable::on_pool!(&app.unrestricted, pool => sqlx::query_scalar::<_, i64>(sql).bind(id).fetch_one(pool).await.unwrap())
}

async fn post(url: String, body: Value, bearer: Option<&str>) -> (StatusCode, Value) {
    let mut request = Client::new().post(url).json(&body);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let reply = request.send().await.expect("request");
    let status = reply.status();
    (status, reply.json().await.unwrap_or(Value::Null))
}

async fn sign_up(app: &TestApp) -> String {
    let email = unique_email();
    let (status, _) =
        post(format!("{}/api/v1/auth/signup", app.base), json!({"email": email, "password": PASSWORD}), None).await;
    assert_eq!(status, StatusCode::CREATED);
    email
}

/// A new API session: its token pair.
async fn token_pair(app: &TestApp, email: &str) -> Value {
    let (status, pair) =
        post(format!("{}/api/v1/auth/token", app.base), json!({"email": email, "password": PASSWORD}), None).await;
    assert_eq!(status, StatusCode::OK, "{pair:?}");
    pair
}

async fn refresh(app: &TestApp, pair: &Value) -> (StatusCode, Value) {
    post(format!("{}/api/v1/auth/refresh", app.base), json!({"refresh_token": pair["refresh_token"]}), None).await
}

async fn creating_past_the_task_quota_is_409_on_the_api_and_the_pages(app: TestApp) {
    let app = app.restart_with(&[("MAX_TASKS_PER_USER", "3")]).await;
    let email = sign_up(&app).await;
    let access = token_pair(&app, &email).await["access_token"].as_str().unwrap().to_owned();
    let create = |title: String| {
        let (url, access) = (format!("{}/api/v1/tasks", app.base), access.clone());
        async move { post(url, json!({ "title": title }), Some(&access)).await }
    };
    // Ten at once against room for three: never a 500, never more than the
    // quota (SQLite runs one writer at a time; PostgreSQL queues the owner's
    // creates on a lock).
    let replies = join_all((0..10).map(|n| create(format!("task {n}")))).await;
    let created = replies.iter().filter(|(status, _)| *status == StatusCode::CREATED).count();
    for (status, body) in &replies {
        assert!(matches!(*status, StatusCode::CREATED | StatusCode::CONFLICT), "{status} {body}");
        if *status == StatusCode::CONFLICT {
            assert_eq!(body["error"]["code"], "quota_exceeded");
            assert!(body["error"]["message"].as_str().unwrap().contains("3 tasks"), "{body}");
        }
    }
    assert_eq!(created, 3);
    let (status, body) = create("one more".into()).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("quota_exceeded")));

    // The pages say so too, and keep everything already there.
    let browser = app.browser();
    assert_eq!(browser.sign_in(&email, PASSWORD).await.status, StatusCode::SEE_OTHER);
    browser.get("/tasks").await;
    let refused = browser.post("/tasks", &[("title", "from the page")]).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(refused.body.contains("Limit reached") && refused.body.contains("Delete some"));
    let held = browser.get("/tasks").await.task_ids();
    assert_eq!(held.len(), created);
    // Room again once one goes; another account is not affected at all.
    browser.get("/tasks").await;
    let deleted = browser.post(&format!("/tasks/{}/delete", held[0]), &[]).await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER);
    let page = browser.get("/tasks").await;
    let batch = crate::tasks::undo_batch(&page.body).expect("an Undo form");
    assert_eq!(browser.post("/tasks", &[("title", "now it fits")]).await.status, StatusCode::SEE_OTHER);
    // Undo would take the account past its quota: refused, nothing restored.
    let undo = browser.post("/tasks/undo", &[("batch", &batch)]).await;
    assert_eq!(undo.status, StatusCode::CONFLICT);
    assert!(undo.body.contains("Limit reached"));
    assert_eq!(browser.get("/tasks").await.task_ids().len(), 3);
    let (other, _) = Api::signed_up(&app).await;
    other.create("someone else's").await;
}

async fn a_sign_in_past_the_session_cap_ends_the_least_recently_used_session(app: TestApp) {
    let app = app.restart_with(&[("MAX_SESSIONS_PER_USER", "3")]).await;
    let email = sign_up(&app).await;
    let mut pairs = Vec::new();
    for _ in 0..3 {
        pairs.push(token_pair(&app, &email).await);
    }
    // Sessions 0 and 2 were used recently, session 1 long ago.
    let session_of = |pair: &Value| {
        let token = pair["refresh_token"].as_str().unwrap().to_owned();
        doable::auth::tokens::hash_refresh_token(&token)
    };
    for (pair, minutes) in [(&pairs[0], 5), (&pairs[1], 60), (&pairs[2], 10)] {
        let then = time::OffsetDateTime::now_utc().replace_nanosecond(0).unwrap() - time::Duration::minutes(minutes);
        let sql = "UPDATE sessions SET last_seen_at = $1, created_at = $1 WHERE refresh_hash = $2";
        doable::on_pool!(&app.unrestricted, pool => sqlx::query(sql).bind(then).bind(session_of(pair)).execute(pool).await.unwrap().rows_affected());
    }
    let newest = token_pair(&app, &email).await;
    assert_eq!(refresh(&app, &pairs[1]).await.0, StatusCode::UNAUTHORIZED, "the least recently used session ended");
    for pair in [&pairs[0], &pairs[2], &newest] {
        assert_eq!(refresh(&app, pair).await.0, StatusCode::OK, "the others live on");
    }
    let id = user_id(&app, &email).await;
    let live = "SELECT count(*) FROM sessions WHERE user_id = $1 AND revoked_at IS NULL";
    assert_eq!(scalar(&app, live, id).await, 3);
    let rows = "SELECT count(*) FROM sessions WHERE user_id = $1";
    assert_eq!(scalar(&app, rows, id).await, 3, "ended sessions leave no rows behind");
}

async fn spent_refresh_tokens_go_with_their_session(app: TestApp) {
    let email = sign_up(&app).await;
    let id = user_id(&app, &email).await;
    let mut pair = token_pair(&app, &email).await;
    for _ in 0..3 {
        let (status, next) = refresh(&app, &pair).await;
        assert_eq!(status, StatusCode::OK);
        pair = next;
    }
    let spent =
        "SELECT count(*) FROM spent_refresh_tokens t JOIN sessions s ON s.id = t.session_id WHERE s.user_id = $1";
    assert_eq!(scalar(&app, spent, id).await, 3, "each renewal spends one");
    let access = pair["access_token"].as_str().unwrap();
    let (status, _) = post(format!("{}/api/v1/auth/logout", app.base), json!({}), Some(access)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(scalar(&app, spent, id).await, 0, "signing out forgets them");
    // The hourly purge removes the revoked session itself.
    doable::db::housekeeping::purge(&app.db, time::Duration::days(1)).await.unwrap();
    assert_eq!(scalar(&app, "SELECT count(*) FROM sessions WHERE user_id = $1", id).await, 0);
}

async fn the_audit_trail_keeps_the_newest_events_up_to_the_cap_and_a_year_at_most(app: TestApp) {
    let app = app.restart_with(&[("MAX_SECURITY_EVENTS_PER_USER", "5")]).await;
    let email = sign_up(&app).await;
    let id = user_id(&app, &email).await;
    for _ in 0..8 {
        token_pair(&app, &email).await;
    }
    let count = "SELECT count(*) FROM security_events WHERE user_id = $1";
    assert_eq!(scalar(&app, count, id).await, 5);
    let signins = "SELECT count(*) FROM security_events WHERE user_id = $1 AND event = 'signin'";
    assert_eq!(scalar(&app, signins, id).await, 5, "the oldest (the sign-up) went first");

    // Older than a year: gone at the next purge; the rest stay.
    let long_ago = time::OffsetDateTime::now_utc().replace_nanosecond(0).unwrap() - time::Duration::days(400);
    let sql = "UPDATE security_events SET created_at = $1
               WHERE id = (SELECT min(id) FROM security_events WHERE user_id = $2)";
    doable::on_pool!(&app.unrestricted, pool => sqlx::query(sql).bind(long_ago).bind(id).execute(pool).await.unwrap().rows_affected());
    doable::db::housekeeping::purge(&app.db, time::Duration::days(1)).await.unwrap();
    assert_eq!(scalar(&app, count, id).await, 4);
}

async fn the_export_streams_every_task_across_pages(app: TestApp) {
    let browser = app.signed_in().await;
    browser.create_task("the first").await;
    let page = browser.get("/account").await;
    assert_eq!(page.status, StatusCode::OK);
    let owner: Uuid = doable::on_pool!(&app.unrestricted, pool => {
        sqlx::query_scalar("SELECT user_id FROM tasks WHERE title = 'the first' ORDER BY id DESC LIMIT 1")
            .fetch_one(pool)
            .await
            .unwrap()
    });
    // More than two of the export's pages (500 tasks each).
    // Long descriptions: some 11 MB, more than the sockets buffer, so the
    // first export below is still running while the client does not read.
    let draft =
        doable::domain::TaskDraft { title: "bulk".into(), description: "d".repeat(10_000), ..Default::default() };
    let input = draft.parse().unwrap();
    const QUOTAS_OFF: doable::db::tasks::Quotas = doable::db::tasks::Quotas { tasks: i64::MAX, labels: i64::MAX };
    for _ in 0..1_100 {
        let created = doable::db::tasks::create(app.db.for_user(owner), &input, None, QUOTAS_OFF).await.unwrap();
        assert!(matches!(created, doable::db::tasks::Created::Task(_)), "{created:?}");
    }
    // One export per account at a time: a second while the first is still
    // being read is 429; once it is read, the next works.
    // The first is read through a socket with a small receive buffer that
    // nobody reads, so it stays in progress.
    let cookies = browser.cookie_header();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut first = socket.connect(app.base.trim_start_matches("http://").parse().unwrap()).await.unwrap();
    let request = format!("GET /account/export HTTP/1.1\r\nHost: x\r\nCookie: {cookies}\r\n\r\n");
    tokio::io::AsyncWriteExt::write_all(&mut first, request.as_bytes()).await.unwrap();
    let mut head = [0u8; 12];
    tokio::io::AsyncReadExt::read_exact(&mut first, &mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    let second =
        Client::new().get(format!("{}/account/export", app.base)).header("cookie", &cookies).send().await.unwrap();
    assert_eq!(second.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(second.headers().get("retry-after").is_some());
    // Once the first ends (here: its client leaves), the next works.
    drop(first);
    let mut export = browser.get("/account/export").await;
    for _ in 0..50 {
        if export.status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        export = browser.get("/account/export").await;
    }
    assert_eq!(export.status, StatusCode::OK);
    let json: Value = serde_json::from_str(&export.body).expect("the whole export is valid JSON");
    let tasks = json["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 1_101);
    assert_eq!(tasks[0]["title"], "the first");
    let ids: Vec<i64> = tasks.iter().map(|t| t["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "each task once, oldest first");
    assert!(json["profile"]["email"].is_string());
}

/// Failed sign-ins are trimmed among themselves: a stranger guessing all day
/// fills only their own share of the trail.
async fn a_strangers_guesses_cannot_push_the_owners_history_out(app: TestApp) {
    let app =
        app.restart_with(&[("MAX_SECURITY_EVENTS_PER_USER", "5"), ("RATE_LIMIT_SIGNIN_PER_ACCOUNT", "1000/15m")]).await;
    let email = sign_up(&app).await;
    let id = user_id(&app, &email).await;
    for _ in 0..3 {
        token_pair(&app, &email).await;
    }
    for n in 0..12 {
        let (status, _) = post(
            format!("{}/api/v1/auth/token", app.base),
            json!({"email": email, "password": format!("a stranger's guess {n}")}),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let owners = "SELECT count(*) FROM security_events WHERE user_id = $1 AND event IN ('signup', 'signin')";
    let failed = "SELECT count(*) FROM security_events WHERE user_id = $1 AND event = 'signin.failed'";
    // The failed ones are recorded in the background: wait for the last.
    for _ in 0..100 {
        if scalar(&app, failed, id).await == 5 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    }
    assert_eq!(scalar(&app, failed, id).await, 5, "the guesses keep their own five");
    assert_eq!(scalar(&app, owners, id).await, 4, "the owner's sign-up and sign-ins all stay");
}
