//! Account security: throttling, enumeration, the account page, password
//! reset, audit trail, export and deletion, deactivation.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::{
    api::Api,
    common::{Backend, Browser, PASSWORD, TestApp, link_in_mail, unique_email},
};

crate::on_both_backends!(
    changing_the_password_needs_the_current_one_and_signs_out_other_devices,
    sessions_are_listed_and_can_be_signed_out_one_by_one_or_everywhere,
    the_name_can_be_changed_and_activity_is_recorded,
    a_reset_link_from_the_outbox_sets_a_new_password_once,
    an_expired_reset_link_fails_with_a_clear_page,
    forgot_password_answers_the_same_for_unknown_emails,
    guessable_passwords_are_refused_with_help,
    export_has_the_profile_and_tasks_and_deletion_leaves_nothing,
);

fn random_ip() -> String {
    let n = uuid::Uuid::new_v4().as_u128();
    format!("198.18.{}.{}", (n >> 8) as u8, n as u8)
}

/// A browser whose requests arrive through a trusted proxy for `ip`.
fn browser_from(app: &TestApp, ip: &str) -> Browser {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-forwarded-for", format!("{ip}, 127.0.0.1").parse().unwrap());
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let client = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .unwrap();
    Browser::with_client(&app.base, client, jar)
}

#[tokio::test]
async fn failed_sign_ins_are_throttled_per_account_with_retry_after() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[("RATE_LIMIT_SIGNIN_PER_ACCOUNT", "3/15m")]).await.unwrap();
    let email = unique_email();
    app.browser().sign_up(&email, PASSWORD).await;
    let other = unique_email();
    app.browser().sign_up(&other, PASSWORD).await;

    for _ in 0..3 {
        assert_eq!(app.browser().sign_in(&email, "wrong password").await.status, StatusCode::UNAUTHORIZED);
    }
    let throttled = app.browser().sign_in(&email, PASSWORD).await;
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS, "even the right password waits");
    let wait: u64 = throttled.headers.get("retry-after").unwrap().to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&wait), "{wait}");
    assert!(throttled.body.contains("Too many failed attempts"));

    let api = Api::new(&app);
    let reply = api.post("/auth/token", serde_json::json!({"email": email, "password": PASSWORD})).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(reply.headers.get("retry-after").is_some());
    assert_eq!(reply.body["error"]["code"], "too_many_requests");

    assert_eq!(app.browser().sign_in(&other, PASSWORD).await.status, StatusCode::SEE_OTHER, "other accounts sign in");
}

#[tokio::test]
async fn failed_sign_ins_are_throttled_per_client_ip_behind_a_trusted_proxy() {
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[("RATE_LIMIT_SIGNIN_PER_IP", "3/15m"), ("TRUSTED_PROXIES", "127.0.0.1")],
    )
    .await
    .unwrap();
    let email = unique_email();
    app.browser().sign_up(&email, PASSWORD).await;
    let attacker = random_ip();
    for _ in 0..3 {
        let page = browser_from(&app, &attacker).sign_in(&unique_email(), "guess").await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    }
    let blocked = browser_from(&app, &attacker).sign_in(&email, PASSWORD).await;
    assert_eq!(blocked.status, StatusCode::TOO_MANY_REQUESTS);
    let elsewhere = browser_from(&app, &random_ip()).sign_in(&email, PASSWORD).await;
    assert_eq!(elsewhere.status, StatusCode::SEE_OTHER, "another client address is not blocked");
}

#[tokio::test]
async fn x_forwarded_for_is_ignored_without_trusted_proxies() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[("RATE_LIMIT_SIGNIN_PER_IP", "3/15m")]).await.unwrap();
    let email = unique_email();
    app.browser().sign_up(&email, PASSWORD).await;
    // Each request claims another address; the socket's is what counts.
    for _ in 0..3 {
        browser_from(&app, &random_ip()).sign_in(&unique_email(), "guess").await;
    }
    let blocked = browser_from(&app, &random_ip()).sign_in(&email, PASSWORD).await;
    assert_eq!(blocked.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn sign_ups_are_throttled_per_ip() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[("RATE_LIMIT_SIGNUP_PER_IP", "2/1h")]).await.unwrap();
    assert_eq!(app.browser().sign_up(&unique_email(), PASSWORD).await.status, StatusCode::SEE_OTHER);
    assert_eq!(app.browser().sign_up(&unique_email(), PASSWORD).await.status, StatusCode::SEE_OTHER);
    let third = app.browser().sign_up(&unique_email(), PASSWORD).await;
    assert_eq!(third.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(third.headers.get("retry-after").is_some());
}

#[tokio::test]
async fn unknown_emails_take_as_long_as_wrong_passwords() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[("RATE_LIMIT_SIGNIN_PER_ACCOUNT", "1000/15m")]).await.unwrap();
    let email = unique_email();
    app.browser().sign_up(&email, PASSWORD).await;
    let browser = app.browser();
    browser.get("/signin").await;
    let token = browser.csrf();
    let unauthorized = |status: StatusCode| status == StatusCode::UNAUTHORIZED;
    let time = |email: String| {
        let (browser, token) = (&browser, token.clone());
        async move {
            let form = [("email", email.as_str()), ("password", "wrong"), ("csrf_token", &token)];
            median_answer_time(browser, "/signin", &form, unauthorized).await
        }
    };
    assert_alike(time(email.clone()).await, time(unique_email()).await);
}

/// The median time of 15 posts of `form` to `path`, each answered as `ok`
/// says.
async fn median_answer_time(
    browser: &Browser,
    path: &str,
    form: &[(&str, &str)],
    ok: impl Fn(StatusCode) -> bool,
) -> Duration {
    let mut times = Vec::new();
    for _ in 0..15 {
        let started = Instant::now();
        let page = browser.post_raw(path, form, &[]).await;
        times.push(started.elapsed());
        assert!(ok(page.status), "{path}: {}", page.status);
    }
    times.sort();
    times[times.len() / 2]
}

/// A known and an unknown email are answered within noise of each other.
fn assert_alike(known: Duration, unknown: Duration) {
    let (fast, slow) = if known < unknown { (known, unknown) } else { (unknown, known) };
    assert!(slow - fast < slow / 2 + Duration::from_millis(5), "known {known:?} vs unknown {unknown:?}");
}

/// The answer comes before the lookup (which, with the token, event and
/// mail, happens in the background), so a known email takes no longer.
#[tokio::test]
async fn forgot_password_takes_as_long_for_a_known_email_as_for_an_unknown_one() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let email = unique_email();
    app.browser().sign_up(&email, PASSWORD).await;
    let browser = app.browser();
    browser.get("/forgot-password").await;
    let token = browser.csrf();
    let answered = |status: StatusCode| status.is_success() || status.is_redirection();
    let time = |email: String| {
        let (browser, token) = (&browser, token.clone());
        async move {
            let form = [("email", email.as_str()), ("csrf_token", &token)];
            median_answer_time(browser, "/forgot-password", &form, answered).await
        }
    };
    assert_alike(time(email.clone()).await, time(unique_email()).await);
}

async fn changing_the_password_needs_the_current_one_and_signs_out_other_devices(app: TestApp) {
    let email = unique_email();
    let laptop = app.browser();
    laptop.sign_up(&email, PASSWORD).await;
    let phone = app.browser();
    phone.sign_in(&email, PASSWORD).await;
    laptop.get("/account").await;

    let wrong = laptop
        .post(
            "/account/password",
            &[("current_password", "nope nope nope"), ("new_password", "a brand new passphrase")],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.body.contains("Your current password is not right."));

    let changed = laptop
        .post("/account/password", &[("current_password", PASSWORD), ("new_password", "a brand new passphrase")])
        .await;
    assert_eq!(changed.location(), "/account?done=password");
    assert_eq!(laptop.get("/tasks").await.status, StatusCode::OK, "this device stays signed in");
    assert!(phone.get("/tasks").await.location().starts_with("/signin"), "the other device is signed out at once");
    assert_eq!(app.browser().sign_in(&email, PASSWORD).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.browser().sign_in(&email, "a brand new passphrase").await.status, StatusCode::SEE_OTHER);
}

async fn sessions_are_listed_and_can_be_signed_out_one_by_one_or_everywhere(app: TestApp) {
    let email = unique_email();
    let laptop = app.browser();
    laptop.sign_up(&email, PASSWORD).await;
    let phone = app.browser();
    phone.sign_in(&email, PASSWORD).await;
    let tablet = app.browser();
    tablet.sign_in(&email, PASSWORD).await;

    let page = laptop.get("/account").await;
    assert_eq!(page.body.matches("action=\"/account/sessions/").count(), 3, "{}", page.body);
    assert_eq!(page.body.matches("this device</span>").count(), 1);

    // Revoke the phone's session: the first listed that is not "this device".
    phone.get("/tasks").await;
    let phone_page = phone.get("/account").await;
    let marker = "this device</span>";
    let at = phone_page.body.find(marker).unwrap();
    let form = &phone_page.body[at..];
    let start = form.find("/account/sessions/").unwrap();
    let phone_session = &form[start..start + form[start..].find('"').unwrap()];
    let revoked = laptop.post(phone_session, &[]).await;
    assert_eq!(revoked.location(), "/account?done=revoked");
    assert!(phone.get("/tasks").await.location().starts_with("/signin"));
    assert_eq!(tablet.get("/tasks").await.status, StatusCode::OK);

    laptop.get("/account").await;
    let everywhere = laptop.post("/account/signout-everywhere", &[]).await;
    assert_eq!(everywhere.location(), "/signin");
    assert!(laptop.get("/tasks").await.location().starts_with("/signin"));
    assert!(tablet.get("/tasks").await.location().starts_with("/signin"));
}

async fn the_name_can_be_changed_and_activity_is_recorded(app: TestApp) {
    let email = unique_email();
    let browser = app.browser();
    browser.sign_up(&email, PASSWORD).await;
    app.browser().sign_in(&email, "wrong password").await;
    browser.get("/account").await;
    let saved = browser.post("/account/profile", &[("name", "Ann Example")]).await;
    assert_eq!(saved.location(), "/account?done=profile");
    // The failed sign-in is recorded in the background.
    let mut page = browser.get("/account?done=profile").await;
    for _ in 0..50 {
        if page.body.contains("Failed sign-in attempt") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(40)).await;
        page = browser.get("/account?done=profile").await;
    }
    assert!(page.body.contains(r#"value="Ann Example""#));
    assert!(page.body.contains("Your name was saved."));
    for event in ["Account created", "Failed sign-in attempt", "Name changed"] {
        assert!(page.body.contains(event), "{event} missing");
    }
    let too_long = "x".repeat(101);
    assert_eq!(browser.post("/account/profile", &[("name", &too_long)]).await.status, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn a_reset_link_from_the_outbox_sets_a_new_password_once(app: TestApp) {
    let email = unique_email();
    let old_device = app.browser();
    old_device.sign_up(&email, PASSWORD).await;

    let browser = app.browser();
    browser.get("/forgot-password").await;
    let sent = browser.post("/forgot-password", &[("email", &email.to_uppercase())]).await;
    assert_eq!(sent.status, StatusCode::OK);
    assert!(sent.body.contains("If an account exists for that address"));

    let link = link_in_mail(&app, "/reset-password?token=", &email).await;
    let form = browser.get(&link).await;
    assert_eq!(form.status, StatusCode::OK);
    let token = link.split_once("token=").unwrap().1;
    let short = browser.post("/reset-password", &[("token", token), ("password", "short")]).await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    let done = browser.post("/reset-password", &[("token", token), ("password", "a fresh reset passphrase")]).await;
    assert_eq!(done.location(), "/signin?notice=reset");

    assert!(old_device.get("/tasks").await.location().starts_with("/signin"), "every session is revoked");
    assert_eq!(app.browser().sign_in(&email, "a fresh reset passphrase").await.status, StatusCode::SEE_OTHER);

    let again = app.browser();
    let reused = again.get(&link).await;
    assert_eq!(reused.status, StatusCode::BAD_REQUEST);
    assert!(reused.body.contains("This link no longer works"));
    again.get("/forgot-password").await;
    let replay = again.post("/reset-password", &[("token", token), ("password", "yet another passphrase")]).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.browser().sign_in(&email, "yet another passphrase").await.status, StatusCode::UNAUTHORIZED);
}

async fn an_expired_reset_link_fails_with_a_clear_page(app: TestApp) {
    let email = unique_email();
    app.browser().sign_up(&email, PASSWORD).await;
    let browser = app.browser();
    browser.get("/forgot-password").await;
    browser.post("/forgot-password", &[("email", &email)]).await;
    let link = link_in_mail(&app, "/reset-password?token=", &email).await;

    let hash = doable::auth::tokens::hash_refresh_token(link.split_once("token=").unwrap().1);
    let past = time::OffsetDateTime::now_utc().replace_nanosecond(0).unwrap() - time::Duration::minutes(1);
    let sql = "UPDATE password_resets SET expires_at = $1 WHERE token_hash = $2";
    doable::on_pool!(&app.unrestricted, pool => sqlx::query(sql).bind(past).bind(&hash).execute(pool).await.map(|_| ()).unwrap());
    let page = browser.get(&link).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("This link no longer works"));
}

async fn forgot_password_answers_the_same_for_unknown_emails(app: TestApp) {
    let email = unique_email();
    app.browser().sign_up(&email, PASSWORD).await;
    let browser = app.browser();
    browser.get("/forgot-password").await;
    let known = browser.post("/forgot-password", &[("email", &email)]).await;
    let unknown = browser.post("/forgot-password", &[("email", &unique_email())]).await;
    assert_eq!(known.status, unknown.status);
    let strip = |body: &str| body.lines().filter(|l| !l.contains("csrf")).collect::<String>();
    assert_eq!(strip(&known.body), strip(&unknown.body));
}

async fn guessable_passwords_are_refused_with_help(app: TestApp) {
    let browser = app.browser();
    let page = browser.sign_up(&unique_email(), "password1").await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("too common or too easy to guess"));
    let api = Api::new(&app);
    let reply = api.post("/auth/signup", serde_json::json!({"email": unique_email(), "password": "12345678"})).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(reply.body["error"]["fields"]["password"].is_string());

    let signed_in = app.signed_in().await;
    signed_in.get("/account").await;
    let change =
        signed_in.post("/account/password", &[("current_password", PASSWORD), ("new_password", "qwertyuiop")]).await;
    assert_eq!(change.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(change.body.contains("too common or too easy to guess"));
}

async fn export_has_the_profile_and_tasks_and_deletion_leaves_nothing(app: TestApp) {
    let email = unique_email();
    let browser = app.browser();
    browser.sign_up(&email, PASSWORD).await;
    browser.get("/tasks").await;
    let added = browser.post("/tasks", &[("title", "Mine to export"), ("labels", "Errands, Home")]).await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    let parent = browser.get("/tasks").await.task_ids()[0];
    let back = format!("parent_id={parent}");
    let step = browser.post("/tasks", &[("title", "A step of it"), ("back", &back)]).await;
    assert_eq!(step.status, StatusCode::SEE_OTHER, "{}", step.body);
    let export = browser.get("/account/export").await;
    assert_eq!(export.status, StatusCode::OK);
    assert!(export.headers.get("content-disposition").unwrap().to_str().unwrap().starts_with("attachment"));
    let json: serde_json::Value = serde_json::from_str(&export.body).unwrap();
    assert_eq!(json["profile"]["email"], email);
    assert_eq!(json["tasks"][0]["title"], "Mine to export");
    assert_eq!(json["lists"][0]["name"], "Inbox");
    assert_eq!(json["tasks"][0]["list_id"], json["lists"][0]["id"], "the task is in the Inbox");
    assert_eq!(json["tasks"][0]["labels"], serde_json::json!(["Errands", "Home"]));
    assert_eq!(json["labels"][0]["name"], "Errands");
    assert_eq!(json["labels"][1]["task_count"], 1);
    assert_eq!(
        (json["tasks"][1]["title"].as_str(), json["tasks"][1]["parent_id"].as_i64()),
        (Some("A step of it"), Some(parent))
    );
    let user_id = json["profile"]["id"].as_str().unwrap().parse::<uuid::Uuid>().unwrap();

    browser.get("/account").await;
    let refused = browser.post("/account/delete", &[("password", "not my password")]).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let deleted = browser.post("/account/delete", &[("password", PASSWORD)]).await;
    assert_eq!(deleted.location(), "/signin?notice=deleted");
    assert!(browser.get("/tasks").await.location().starts_with("/signin"));
    assert_eq!(app.browser().sign_in(&email, PASSWORD).await.status, StatusCode::UNAUTHORIZED);

    for table in [
        "users WHERE id",
        "tasks WHERE user_id",
        "lists WHERE user_id",
        "labels WHERE user_id",
        "task_labels WHERE user_id",
        "task_counts WHERE user_id",
        "sessions WHERE user_id",
        "security_events WHERE user_id",
        "password_resets WHERE user_id",
    ] {
        let sql = format!("SELECT count(*) FROM {table} = $1");
        let (count,): (i64,) = doable::on_pool!(&app.unrestricted, pool => sqlx::query_as(&sql).bind(user_id).fetch_one(pool).await.unwrap());
        assert_eq!(count, 0, "{table}");
    }
}

#[tokio::test]
async fn a_deactivated_user_cannot_sign_in_or_use_a_session() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let email = unique_email();
    let browser = app.browser();
    browser.sign_up(&email, PASSWORD).await;
    let database_url = format!("sqlite://{}/doable.db", app.data_dir.path().display());
    // On a blocking thread: the server shares this test's runtime and must
    // keep running (it may be finishing a write) while the command runs.
    let run = |action: &'static str| {
        let (email, database_url, data_dir) = (email.clone(), database_url.clone(), app.data_dir.path().to_owned());
        async move {
            tokio::task::spawn_blocking(move || {
                std::process::Command::new(env!("CARGO_BIN_EXE_doable"))
                    .args(["user", action, &email])
                    .env("DATABASE_URL", &database_url)
                    .env("DATA_DIR", &data_dir)
                    .env("JWT_SECRET", crate::common::SECRET)
                    .env("RUST_LOG", "warn")
                    .output()
                    .unwrap()
            })
            .await
            .unwrap()
        }
    };
    let out = run("deactivate").await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(browser.get("/tasks").await.location().starts_with("/signin"), "the live session is refused");
    assert_eq!(app.browser().sign_in(&email, PASSWORD).await.status, StatusCode::UNAUTHORIZED);

    let out = run("activate").await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(app.browser().sign_in(&email, PASSWORD).await.status, StatusCode::SEE_OTHER);

    let unknown = std::process::Command::new(env!("CARGO_BIN_EXE_doable"))
        .args(["user", "deactivate", "nobody@example.com"])
        .env("DATABASE_URL", &database_url)
        .env("JWT_SECRET", crate::common::SECRET)
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(1));
}

#[tokio::test]
async fn password_reset_requests_are_throttled_per_ip() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[("RATE_LIMIT_SIGNUP_PER_IP", "2/1h")]).await.unwrap();
    let browser = app.browser();
    browser.get("/forgot-password").await;
    for _ in 0..2 {
        assert_eq!(browser.post("/forgot-password", &[("email", &unique_email())]).await.status, StatusCode::OK);
    }
    let third = browser.post("/forgot-password", &[("email", &unique_email())]).await;
    assert_eq!(third.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(third.headers.get("retry-after").is_some());
}

#[tokio::test]
async fn the_sqlite_data_directory_is_created_owner_only() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let fresh = app.data_dir.path().join("made-by-doable");
    let url = format!("sqlite://{}/doable.db", fresh.display());
    doable::db::Db::connect(&doable::db::DatabaseUrl::parse(&url).unwrap()).await.unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777, 0o700);
    }
}
