//! Attacks as attackers run them: many requests in flight at once, from an
//! account of the attacker's own, or by sheer volume. Every request here is
//! a real HTTP request, and the concurrent ones are all sent before any is
//! answered (`join_all`), not one after another.

use std::time::{Duration, Instant};

use futures::future::join_all;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use crate::api::Api;
use crate::common::{Backend, PASSWORD, TestApp, from_ip, mails_to, unique_email, unique_ip};

crate::on_both_backends!(
    concurrent_wrong_passwords_for_one_account_get_at_most_the_limit_of_verdicts,
    concurrent_sign_ins_from_one_ip_get_at_most_the_limit_of_verdicts,
    concurrent_sign_ups_from_one_ip_create_at_most_the_limit_of_accounts,
    concurrent_reset_requests_from_one_ip_are_answered_at_most_the_limit_of_times,
    a_throttled_sign_in_answers_the_same_for_every_email_and_is_recorded_once,
    wrong_current_passwords_count_as_failed_sign_ins_and_are_throttled,
    a_flood_of_reauthentications_does_not_keep_another_user_from_signing_in,
    a_flood_naming_other_accounts_does_not_use_up_a_victims_budget,
    a_password_reset_spends_every_other_reset_link,
    reset_mail_to_one_address_is_capped_at_three_an_hour,
    a_password_change_spends_every_reset_link,
    malformed_emails_are_refused_on_the_pages_and_the_api,
    a_method_a_route_lacks_is_405_with_allow_before_any_check,
    long_searches_are_refused_never_a_server_error,
);

/// How many of `replies` have each status.
fn tally(statuses: &[StatusCode]) -> std::collections::BTreeMap<u16, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for status in statuses {
        *counts.entry(status.as_u16()).or_insert(0) += 1;
    }
    counts
}

async fn post_json(client: &Client, url: String, body: Value) -> reqwest::Response {
    client.post(url).json(&body).send().await.expect("request")
}

async fn sign_up_api(app: &TestApp, email: &str) {
    let reply = post_json(
        &Client::new(),
        format!("{}/api/v1/auth/signup", app.base),
        json!({"email": email, "password": PASSWORD}),
    )
    .await;
    assert_eq!(reply.status(), StatusCode::CREATED);
}

/// Rows in the account's audit trail with this event name, once the
/// background recording has settled (the count stopped moving for 300 ms).
async fn events(app: &TestApp, email: &str, event: &str) -> i64 {
    let mut last = count_events(app, email, event).await;
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = count_events(app, email, event).await;
        if now == last {
            return now;
        }
        last = now;
    }
}

async fn count_events(app: &TestApp, email: &str, event: &str) -> i64 {
    doable::on_pool!(&app.unrestricted, pool => {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM security_events e JOIN users u ON u.id = e.user_id WHERE u.email = $1 AND e.event = $2",
        )
        .bind(email)
        .bind(event)
        .fetch_one(pool)
        .await
        .unwrap()
    })
}

/// 150 wrong guesses at once for one account, the right password among the
/// last of them: at most the limit (10) get a verdict, the rest 429 with
/// Retry-After, and the right one is refused too.
async fn concurrent_wrong_passwords_for_one_account_get_at_most_the_limit_of_verdicts(app: TestApp) {
    let email = unique_email();
    sign_up_api(&app, &email).await;
    let client = Client::new();
    let url = format!("{}/api/v1/auth/token", app.base);
    let replies = join_all((0..150).map(|i| {
        let password = if i == 149 { PASSWORD.to_owned() } else { format!("wrong guess {i}") };
        post_json(&client, url.clone(), json!({"email": email, "password": password}))
    }))
    .await;
    let statuses: Vec<StatusCode> = replies.iter().map(|r| r.status()).collect();
    let counts = tally(&statuses);
    let verdicts = counts.get(&401).unwrap_or(&0) + counts.get(&200).unwrap_or(&0);
    // At most the limit of wrong guesses are checked. (The right password,
    // sent last, may get through too while there is room; a success takes
    // its count back.)
    let wrong = *counts.get(&401).unwrap_or(&0);
    assert!(wrong <= 10 && *counts.get(&200).unwrap_or(&0) <= 1, "{counts:?}");
    // The rest are throttled, or (of the 10 let through) refused a place
    // in the hashing queue, which holds only a few checks per account.
    let refused = counts.get(&429).unwrap_or(&0) + counts.get(&503).unwrap_or(&0);
    assert_eq!(refused, 150 - verdicts, "{counts:?}");
    // (A 503 is shed before any check and takes its count back, so a few
    // more than 140 may reach the counter; none past the limit gets a verdict.)
    assert!(counts.get(&429).copied().unwrap_or(0) >= 100, "{counts:?}");
    for reply in replies.iter().filter(|r| !matches!(r.status(), StatusCode::UNAUTHORIZED | StatusCode::OK)) {
        let wait: u64 = reply.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=900).contains(&wait), "{wait}");
    }
    assert!(events(&app, &email, "signin.failed").await <= 10);

    // The page path shares the account's limit: wrong guesses there fill
    // what the flood left (shed attempts took their count back), and then
    // the right password is refused too.
    let mut total = wrong;
    loop {
        let page = app.browser().sign_in(&email, "one more wrong guess").await;
        if page.status == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
        assert_eq!(page.status, StatusCode::UNAUTHORIZED);
        total += 1;
        assert!(total <= 10, "more wrong guesses checked than the limit");
    }
    assert_eq!(total, 10, "exactly the limit of wrong guesses checked in all");
    assert_eq!(app.browser().sign_in(&email, PASSWORD).await.status, StatusCode::TOO_MANY_REQUESTS);
}

/// 120 sign-ins at once from one IP, each for a different email: at most
/// the per-IP limit reach the password check, on the page path.
async fn concurrent_sign_ins_from_one_ip_get_at_most_the_limit_of_verdicts(app: TestApp) {
    let app = app.restart_with(&[("RATE_LIMIT_SIGNIN_PER_IP", "20/15m")]).await;
    let browser = app.browser_from(&unique_ip());
    browser.get("/signin").await;
    let token = browser.csrf();
    let emails: Vec<String> = (0..120).map(|_| unique_email()).collect();
    let (browser, token) = (&browser, &token);
    let pages = join_all(emails.iter().map(|email| async move {
        browser
            .post_raw("/signin", &[("email", email), ("password", "a wrong password"), ("csrf_token", token)], &[])
            .await
    }))
    .await;
    let counts = tally(&pages.iter().map(|p| p.status).collect::<Vec<_>>());
    assert!(counts.get(&401).copied().unwrap_or(0) <= 20, "{counts:?}");
    assert_eq!(counts.get(&401).unwrap_or(&0) + counts.get(&429).unwrap_or(&0), 120, "{counts:?}");
    assert!(
        pages
            .iter()
            .filter(|p| p.status == StatusCode::TOO_MANY_REQUESTS)
            .all(|p| p.headers.contains_key("retry-after"))
    );
}

/// 100 sign-ups at once from one IP against a limit of 20: at most 20
/// accounts exist afterwards.
async fn concurrent_sign_ups_from_one_ip_create_at_most_the_limit_of_accounts(app: TestApp) {
    let app = app.restart_with(&[("RATE_LIMIT_SIGNUP_PER_IP", "20/1h")]).await;
    let client = from_ip(&unique_ip()).build().unwrap();
    let url = format!("{}/api/v1/auth/signup", app.base);
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let replies = join_all((0..100).map(|i| {
        post_json(&client, url.clone(), json!({"email": format!("flood-{i}-{tag}@example.com"), "password": PASSWORD}))
    }))
    .await;
    let counts = tally(&replies.iter().map(|r| r.status()).collect::<Vec<_>>());
    assert!(counts.get(&201).copied().unwrap_or(0) <= 20, "{counts:?}");
    assert_eq!(counts.get(&201).unwrap_or(&0) + counts.get(&429).unwrap_or(&0), 100, "{counts:?}");
    let created: i64 = doable::on_pool!(&app.unrestricted, pool => {
        sqlx::query_scalar("SELECT count(*) FROM users WHERE email LIKE $1")
            .bind(format!("flood-%-{tag}@example.com"))
            .fetch_one(pool)
            .await
            .unwrap()
    });
    assert!(created <= 20, "{created} accounts");
    assert_eq!(created as usize, counts.get(&201).copied().unwrap_or(0));
}

/// 100 reset requests at once from one IP against a limit of 20.
async fn concurrent_reset_requests_from_one_ip_are_answered_at_most_the_limit_of_times(app: TestApp) {
    let app = app.restart_with(&[("RATE_LIMIT_SIGNUP_PER_IP", "20/1h")]).await;
    let browser = app.browser_from(&unique_ip());
    browser.get("/forgot-password").await;
    let token = browser.csrf();
    let emails: Vec<String> = (0..100).map(|_| unique_email()).collect();
    let (browser, token) = (&browser, &token);
    let pages = join_all(emails.iter().map(|email| async move {
        browser.post_raw("/forgot-password", &[("email", email), ("csrf_token", token)], &[]).await
    }))
    .await;
    let counts = tally(&pages.iter().map(|p| p.status).collect::<Vec<_>>());
    assert!(counts.get(&200).copied().unwrap_or(0) <= 20, "{counts:?}");
    assert_eq!(counts.get(&200).unwrap_or(&0) + counts.get(&429).unwrap_or(&0), 100, "{counts:?}");
}

/// Past the per-IP limit, a sign-in for an account and one for an unknown
/// email get the same answer; the account's trail says "blocked" once.
async fn a_throttled_sign_in_answers_the_same_for_every_email_and_is_recorded_once(app: TestApp) {
    let app = app.restart_with(&[("RATE_LIMIT_SIGNIN_PER_IP", "3/15m")]).await;
    let email = unique_email();
    sign_up_api(&app, &email).await;
    let client = from_ip(&unique_ip()).build().unwrap();
    let url = format!("{}/api/v1/auth/token", app.base);
    for _ in 0..3 {
        let reply = post_json(&client, url.clone(), json!({"email": unique_email(), "password": "wrong one"})).await;
        assert_eq!(reply.status(), StatusCode::UNAUTHORIZED);
    }
    let mut answers = Vec::new();
    for target in [email.clone(), unique_email(), email.clone(), email.clone()] {
        let reply = post_json(&client, url.clone(), json!({"email": target, "password": PASSWORD})).await;
        let status = reply.status();
        answers.push((status, reply.text().await.unwrap()));
    }
    assert!(answers.iter().all(|a| a == &answers[0]), "{answers:?}");
    assert_eq!(answers[0].0, StatusCode::TOO_MANY_REQUESTS);
    // The blocked event is written after the answer, in the background.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(events(&app, &email, "signin.throttled").await, 1);
}

/// Re-authentication is a sign-in attempt: 40 wrong current passwords at
/// once get at most 10 verdicts, the rest 429, and then even the right one
/// waits; each verdict is a failed sign-in in the trail.
async fn wrong_current_passwords_count_as_failed_sign_ins_and_are_throttled(app: TestApp) {
    let email = unique_email();
    let browser = app.browser();
    browser.sign_up(&email, PASSWORD).await;
    browser.get("/account").await;
    let token = browser.csrf();
    let stored_hash = password_hash(&app, &email).await;
    let guesses: Vec<String> = (0..40).map(|i| format!("guess number {i}")).collect();
    let (browser, token) = (&browser, &token);
    let pages = join_all(guesses.iter().map(|guess| async move {
        browser
            .post_raw(
                "/account/password",
                &[("current_password", guess), ("new_password", "a brand new passphrase"), ("csrf_token", token)],
                &[],
            )
            .await
    }))
    .await;
    let counts = tally(&pages.iter().map(|p| p.status).collect::<Vec<_>>());
    assert!(counts.get(&422).copied().unwrap_or(0) <= 10, "{counts:?}");
    // 429 past the limit; 503 for those of the 10 let through that found the
    // account's few places in the hashing queue taken.
    let refused = counts.get(&429).unwrap_or(&0) + counts.get(&503).unwrap_or(&0);
    assert_eq!(counts.get(&422).unwrap_or(&0) + refused, 40, "{counts:?}");
    assert!(counts.get(&429).copied().unwrap_or(0) >= 20, "{counts:?}");
    // Fill what the flood left (a shed attempt takes its count back).
    let mut verdicts = counts.get(&422).copied().unwrap_or(0);
    loop {
        let page = browser
            .post_raw(
                "/account/password",
                &[
                    ("current_password", "yet another guess"),
                    ("new_password", "a brand new passphrase"),
                    ("csrf_token", token),
                ],
                &[],
            )
            .await;
        if page.status == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
        verdicts += 1;
        assert!(verdicts <= 10, "more verdicts than the limit");
    }
    assert_eq!(verdicts, 10);
    let failed = events(&app, &email, "signin.failed").await;
    assert_eq!(failed as usize, verdicts, "each verdict is a failed sign-in in the trail");

    let right = browser
        .post_raw(
            "/account/password",
            &[("current_password", PASSWORD), ("new_password", "a brand new passphrase"), ("csrf_token", token)],
            &[],
        )
        .await;
    assert_eq!(right.status, StatusCode::TOO_MANY_REQUESTS);
    let deleted = browser.post_raw("/account/delete", &[("password", PASSWORD), ("csrf_token", token)], &[]).await;
    assert_eq!(deleted.status, StatusCode::TOO_MANY_REQUESTS);
    // Nothing changed: the stored password is the one from before.
    assert_eq!(password_hash(&app, &email).await, stored_hash);
    assert_eq!(app.browser().sign_in(&email, "a brand new passphrase").await.status, StatusCode::TOO_MANY_REQUESTS);
}

async fn password_hash(app: &TestApp, email: &str) -> String {
    doable::on_pool!(&app.unrestricted, pool => {
        sqlx::query_scalar("SELECT password_hash FROM users WHERE email = $1").bind(email).fetch_one(pool).await.unwrap()
    })
}

/// One signed-in account floods 400 wrong re-authentications at once (with
/// a per-account limit high enough that the hashing queue is what stops
/// them); another user still signs in while it runs.
async fn a_flood_of_reauthentications_does_not_keep_another_user_from_signing_in(app: TestApp) {
    let app = app.restart_with(&[("RATE_LIMIT_SIGNIN_PER_ACCOUNT", "100000/15m")]).await;
    let other = unique_email();
    sign_up_api(&app, &other).await;
    let attacker = app.browser();
    attacker.sign_up(&unique_email(), PASSWORD).await;
    attacker.get("/account").await;
    let token = attacker.csrf();
    let guesses: Vec<String> = (0..400).map(|i| format!("flood guess {i}")).collect();
    let (attacker_ref, token_ref) = (&attacker, &token);
    let flood = join_all(guesses.iter().map(|guess| async move {
        attacker_ref.post_raw("/account/delete", &[("password", guess), ("csrf_token", token_ref)], &[]).await
    }));
    let victim = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let started = Instant::now();
        let reply = post_json(
            &Client::new(),
            format!("{}/api/v1/auth/token", app.base),
            json!({"email": other, "password": PASSWORD}),
        )
        .await;
        (reply.status(), started.elapsed())
    };
    let (pages, (status, took)) = tokio::join!(flood, victim);
    assert_eq!(status, StatusCode::OK, "the other user's sign-in");
    assert!(took < Duration::from_secs(10), "the other user waited {took:?}");
    let counts = tally(&pages.iter().map(|p| p.status).collect::<Vec<_>>());
    assert!(counts.get(&503).copied().unwrap_or(0) > 0, "the queue never filled: {counts:?}");
    assert!(
        pages
            .iter()
            .filter(|p| p.status == StatusCode::SERVICE_UNAVAILABLE)
            .all(|p| p.headers.contains_key("retry-after"))
    );
    assert_eq!(counts.get(&422).unwrap_or(&0) + counts.get(&503).unwrap_or(&0), 400, "{counts:?}");
}

/// Two reset links; using one spends the other.
async fn a_password_reset_spends_every_other_reset_link(app: TestApp) {
    let email = unique_email();
    sign_up_api(&app, &email).await;
    let browser = app.browser();
    for _ in 0..2 {
        browser.get("/forgot-password").await;
        browser.post("/forgot-password", &[("email", &email)]).await;
    }
    let mails = mails_to(&app, &email, 2).await;
    let link = |mail: &str| {
        let start = mail.find("/reset-password?token=").unwrap();
        let end = mail[start..].find(char::is_whitespace).unwrap() + start;
        mail[start..end].to_owned()
    };
    let (older, newer) = (link(&mails[0]), link(&mails[1]));
    assert_ne!(older, newer);
    let token = |link: &str| link.split_once("token=").unwrap().1.to_owned();
    assert_eq!(browser.get(&newer).await.status, StatusCode::OK);
    let done =
        browser.post("/reset-password", &[("token", &token(&newer)), ("password", "a fresh reset passphrase")]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(browser.get(&older).await.status, StatusCode::BAD_REQUEST, "the older link died with the reset");
    let again =
        browser.post("/reset-password", &[("token", &token(&older)), ("password", "an attacker passphrase")]).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.browser().sign_in(&email, "a fresh reset passphrase").await.status, StatusCode::SEE_OTHER);
}

/// Five requests for one address: three mails.
async fn reset_mail_to_one_address_is_capped_at_three_an_hour(app: TestApp) {
    let email = unique_email();
    sign_up_api(&app, &email).await;
    let browser = app.browser();
    for _ in 0..5 {
        browser.get("/forgot-password").await;
        assert_eq!(browser.post("/forgot-password", &[("email", &email)]).await.status, StatusCode::OK);
    }
    assert_eq!(mails_to(&app, &email, 3).await.len(), 3);
    // Every request's background work has run once each took its turn at
    // the address's bucket: the three mails are its three counted slots.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(mails_to(&app, &email, 3).await.len(), 3, "no fourth mail");
    let bucket = doable::auth::throttle::reset_mail_bucket(&email);
    let counted: i64 = doable::on_pool!(&app.unrestricted, pool => {
        sqlx::query_scalar("SELECT count(*) FROM throttle_events WHERE bucket = $1").bind(&bucket).fetch_one(pool).await.unwrap()
    });
    assert_eq!(counted, 3);
}

/// Changing the password (signed in, with the current one) spends every
/// reset link mailed before, as a reset does.
async fn a_password_change_spends_every_reset_link(app: TestApp) {
    let email = unique_email();
    let browser = app.browser();
    browser.sign_up(&email, PASSWORD).await;
    let stranger = app.browser();
    stranger.get("/forgot-password").await;
    stranger.post("/forgot-password", &[("email", &email)]).await;
    let mail = mails_to(&app, &email, 1).await.pop().unwrap();
    let start = mail.find("/reset-password?token=").unwrap();
    let end = mail[start..].find(char::is_whitespace).unwrap() + start;
    let link = mail[start..end].to_owned();
    browser.get("/account").await;
    let changed = browser
        .post("/account/password", &[("current_password", PASSWORD), ("new_password", "a changed passphrase")])
        .await;
    assert_eq!(changed.status, StatusCode::SEE_OTHER, "{}", changed.body);
    assert_eq!(stranger.get(&link).await.status, StatusCode::BAD_REQUEST, "the link died with the change");
    let token = link.split_once("token=").unwrap().1;
    let used = stranger.post("/reset-password", &[("token", token), ("password", "an attacker passphrase")]).await;
    assert_eq!(used.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.browser().sign_in(&email, "a changed passphrase").await.status, StatusCode::SEE_OTHER);
}

async fn malformed_emails_are_refused_on_the_pages_and_the_api(app: TestApp) {
    let client = Client::new();
    for bad in ["a@b@example.com", "<script>@example.com", "a@@b.com", "a@b..com"] {
        let reply =
            post_json(&client, format!("{}/api/v1/auth/signup", app.base), json!({"email": bad, "password": PASSWORD}))
                .await;
        assert_eq!(reply.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        let body: Value = reply.json().await.unwrap();
        assert!(body["error"]["fields"]["email"].is_string(), "{bad}: {body}");
        let page = app.browser().sign_up(bad, PASSWORD).await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert!(page.body.contains("Enter an email address like name@example.com."), "{bad}");
    }
}

async fn a_method_a_route_lacks_is_405_with_allow_before_any_check(app: TestApp) {
    let client = Client::new();
    // No cookies, no CSRF token: still 405, not 403 or a redirect.
    for (method, path) in [(reqwest::Method::DELETE, "/signin"), (reqwest::Method::PUT, "/tasks")] {
        let reply = client.request(method.clone(), format!("{}{path}", app.base)).send().await.unwrap();
        assert_eq!(reply.status(), StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        let allow = reply.headers()["allow"].to_str().unwrap().to_owned();
        assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    }
    let reply = client.put(format!("{}/api/v1/tasks", app.base)).send().await.unwrap();
    assert_eq!(reply.status(), StatusCode::METHOD_NOT_ALLOWED);
    let allow = reply.headers()["allow"].to_str().unwrap().to_owned();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    let body: Value = reply.json().await.unwrap();
    assert_eq!(body["error"]["code"], "method_not_allowed");
}

async fn long_searches_are_refused_never_a_server_error(app: TestApp) {
    let (api, _) = Api::signed_up(&app).await;
    api.create("a task to search").await;
    let at_cap = api.get(&format!("/tasks?q={}", "a".repeat(200))).await;
    assert_eq!(at_cap.status, StatusCode::OK);
    for length in [201, 5_001, 60_000] {
        let reply = api.get(&format!("/tasks?q={}", "a".repeat(length))).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "q of {length}");
        assert!(reply.body["error"]["fields"]["q"].is_string(), "{:?}", reply.body);
    }
    // Past what the server reads of a request line at all: 414.
    // (Raw, since the server answers before it has read it all.)
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(app.base.trim_start_matches("http://")).await.unwrap();
    let request = format!("GET /api/v1/tasks?q={} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(100_000));
    let _ = stream.write_all(request.as_bytes()).await;
    let mut answer = vec![0; 64];
    let read = stream.read(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(answer.starts_with("HTTP/1.1 414"), "{answer}");
}

/// Many creations whose clients give up mid-request: afterwards no
/// connection of the app is left inside a transaction, no request was
/// answered 5xx, and every creation answered 201 is in the database.
#[tokio::test]
async fn cancelled_requests_leave_no_connection_in_a_transaction() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let (api, pair) = Api::signed_up(&app).await;
    let token = pair["access_token"].as_str().unwrap().to_owned();
    let mut created = Vec::new();
    for round in 0..5 {
        let replies = join_all((0..60).map(|i| {
            // Give up after 1 to 30 ms: somewhere inside the request.
            let client = Client::builder().timeout(Duration::from_millis(1 + (i * 7 + round) % 30)).build().unwrap();
            let (url, token) = (format!("{}/api/v1/tasks", app.base), token.clone());
            async move {
                client.post(url).bearer_auth(token).json(&json!({"title": format!("cancel {round}-{i}")})).send().await
            }
        }))
        .await;
        for reply in replies.into_iter().flatten() {
            assert!(!reply.status().is_server_error(), "{}", reply.status());
            if reply.status() == StatusCode::CREATED
                && let Ok(body) = reply.json::<Value>().await
            {
                created.push(body["id"].as_i64().unwrap());
            }
        }
    }
    // Whatever was begun has had time to finish.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stuck: i64 = doable::on_pool!(&app.unrestricted, pool => {
        sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()
               AND state_change < now() - interval '1 second'",
        )
        .fetch_one(pool)
        .await
        .unwrap()
    });
    // (Other tests share the database; none idles inside a transaction for
    // a second.)
    assert_eq!(stuck, 0, "connections left idle in transaction");
    // The app still writes, and every acknowledged task is there.
    let after = api.create("after the storm").await;
    for id in created.iter().chain([&after]) {
        assert_eq!(api.get(&format!("/tasks/{id}")).await.status, StatusCode::OK, "task {id}");
    }
    let signup = post_json(
        &Client::new(),
        format!("{}/api/v1/auth/signup", app.base),
        json!({"email": unique_email(), "password": PASSWORD}),
    )
    .await;
    assert_eq!(signup.status(), StatusCode::CREATED);
}

/// SQLite has no statement_timeout of its own: a statement that runs past
/// the deadline is interrupted (and answered as "unavailable", a 503, like
/// PostgreSQL's), and the connection serves the next request as usual. So a
/// runaway query cannot hold a connection, or a shutdown, for long.
#[tokio::test]
async fn a_runaway_statement_on_sqlite_stops_at_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let url = doable::db::DatabaseUrl::parse(&format!("sqlite://{}/doable.db", dir.path().display())).unwrap();
    let settings = doable::db::PoolSettings {
        max_connections: 1,
        acquire_timeout: Duration::from_secs(5),
        statement_timeout: Duration::from_secs(1),
        ..Default::default()
    };
    let db = doable::db::Db::connect_with(&url, &settings).await.unwrap();
    let endless = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT count(*) FROM n";
    let started = Instant::now();
    let outcome = doable::on_pool!(&db, pool => sqlx::query_scalar::<_, i64>(endless).fetch_one(pool).await);
    let elapsed = started.elapsed();
    let err = outcome.expect_err("an endless statement cannot finish");
    assert!(elapsed < Duration::from_secs(3), "stopped after {elapsed:?}");
    assert!(matches!(doable::db::DbError::from(err), doable::db::DbError::Unavailable(_)), "answered as a 503");
    // The same (only) connection serves the next statement.
    let one = doable::on_pool!(&db, pool => sqlx::query_scalar::<_, i64>("SELECT 1").fetch_one(pool).await.unwrap());
    assert_eq!(one, 1);
    // Each statement is timed from its own start: on a connection opened
    // (and idle) longer than the deadline ago, a statement of many steps
    // still finishes, and an endless one still stops.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let long =
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 300000) SELECT count(*) FROM n";
    let counted = doable::on_pool!(&db, pool => sqlx::query_scalar::<_, i64>(long).fetch_one(pool).await.unwrap());
    assert_eq!(counted, 300_000);
    // Statements of many steps back to back on the one connection, for
    // longer than the deadline in all: each is timed on its own.
    let busy = Instant::now();
    while busy.elapsed() < Duration::from_millis(2500) {
        let counted = doable::on_pool!(&db, pool => sqlx::query_scalar::<_, i64>(long).fetch_one(pool).await);
        assert_eq!(counted.expect("a statement well inside its deadline"), 300_000);
    }
    let started = Instant::now();
    let outcome = doable::on_pool!(&db, pool => sqlx::query_scalar::<_, i64>(endless).fetch_one(pool).await);
    assert!(outcome.is_err() && started.elapsed() < Duration::from_secs(3), "stopped after {:?}", started.elapsed());
}

/// 300 sign-ins for unknown emails, from as many addresses, fill the hashing
/// queue; a victim signing in meanwhile may be told "busy" (503), but a shed
/// attempt takes its count back: the victim's budget is untouched and their
/// next sign-in succeeds.
async fn a_flood_naming_other_accounts_does_not_use_up_a_victims_budget(app: TestApp) {
    let app = app.restart_with(&[]).await;
    let victim = unique_email();
    sign_up_api(&app, &victim).await;
    let url = format!("{}/api/v1/auth/token", app.base);
    let flood = join_all((0..300).map(|n| {
        let client = from_ip(&unique_ip()).build().unwrap();
        post_json_owned(client, url.clone(), json!({"email": unique_email(), "password": format!("guess {n}")}))
    }));
    let own = async {
        let client = Client::new();
        let mut statuses = Vec::new();
        for _ in 0..12 {
            statuses
                .push(post_json(&client, url.clone(), json!({"email": victim, "password": PASSWORD})).await.status());
        }
        statuses
    };
    let (_, own) = tokio::join!(flood, own);
    assert!(own.iter().all(|s| matches!(s.as_u16(), 200 | 503)), "{own:?}");
    let after = post_json(&Client::new(), url, json!({"email": victim, "password": PASSWORD})).await;
    assert_eq!(after.status(), StatusCode::OK, "the victim still signs in");
    let bucket = doable::auth::throttle::account_bucket(&victim);
    let counted: i64 = doable::on_pool!(&app.unrestricted, pool => {
        sqlx::query_scalar("SELECT count(*) FROM throttle_events WHERE bucket = $1").bind(&bucket).fetch_one(pool).await.unwrap()
    });
    assert_eq!(counted, 0, "no attempt of the victim's stayed counted");
}

async fn post_json_owned(client: Client, url: String, body: Value) -> StatusCode {
    client.post(url).json(&body).send().await.expect("request").status()
}

/// Connections held open without use (slowloris, idle floods): one client
/// holds at most `MAX_CONNECTIONS_PER_IP` (more are closed at once), and any
/// connection silent for `CONNECTION_IDLE_SECONDS` is closed, mid-request
/// too; the slots come back, so the client is served again afterwards.
#[tokio::test]
async fn idle_connections_are_closed_and_one_client_holds_at_most_its_share() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    let app =
        TestApp::spawn_with(Backend::Sqlite, &[("CONNECTION_IDLE_SECONDS", "1"), ("MAX_CONNECTIONS_PER_IP", "5")])
            .await
            .unwrap();
    let addr = app.base.trim_start_matches("http://").to_owned();
    let closed_within = |mut stream: TcpStream, limit: Duration| async move {
        let mut buf = [0u8; 1024];
        let started = Instant::now();
        loop {
            match tokio::time::timeout(limit, stream.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return Some(started.elapsed()),
                Ok(Ok(_)) => continue, // an answer; wait for the close
                Err(_) => return None,
            }
        }
    };
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(TcpStream::connect(&addr).await.unwrap());
    }
    // The fifth sends half a request and stops.
    let mut partial = TcpStream::connect(&addr).await.unwrap();
    partial.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let sixth = TcpStream::connect(&addr).await.unwrap();
    let refused = closed_within(sixth, Duration::from_millis(500)).await;
    assert!(refused.is_some(), "a sixth connection from one client is closed at once");

    // Silent ones are closed after the idle limit, the half-sent request too.
    let started = Instant::now();
    let closes =
        join_all(held.into_iter().chain([partial]).map(|stream| closed_within(stream, Duration::from_secs(4)))).await;
    assert!(closes.iter().all(Option::is_some), "every idle connection is closed: {closes:?}");
    assert!(started.elapsed() >= Duration::from_millis(500), "not before the idle limit");

    // The slots came back: the client is served again.
    let reply = Client::new().get(format!("{}/healthz", app.base)).send().await.unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
}
