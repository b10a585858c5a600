//! Sign-up by confirmation mail (`SIGNUP_CONFIRMATION=email`): the answer
//! is the same whether or not the email has an account, and only the link
//! in the mail creates one.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::{
    api::Api,
    common::{Backend, Browser, PASSWORD, Page, TestApp, link_in_mail, mails_to, postgres_url, unique_email},
};

const CONFIRM: &str = "/signup/confirm?token=";

async fn confirming(backend: Backend) -> Option<TestApp> {
    TestApp::spawn_with(backend, &[("SIGNUP_CONFIRMATION", "email")]).await
}

/// Signs up and follows the link in the mail; the browser ends signed in.
async fn confirmed_account(app: &TestApp, email: &str) -> Browser {
    let browser = app.browser();
    let sent = browser.sign_up(email, PASSWORD).await;
    assert_eq!((sent.status, sent.location()), (StatusCode::SEE_OTHER, "/signup/sent"), "{}", sent.body);
    let link = link_in_mail(app, CONFIRM, email).await;
    let page = browser.get(&link).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(email), "the page names the address");
    let token = link.split_once("token=").unwrap().1;
    let created = browser.post("/signup/confirm", &[("token", token), ("password", PASSWORD)]).await;
    assert_eq!((created.status, created.location()), (StatusCode::SEE_OTHER, "/tasks"), "{}", created.body);
    browser
}

async fn the_link_in_the_mail_creates_the_account_once(app: TestApp) {
    let email = unique_email();
    let browser = app.browser();
    browser.sign_up(&email, PASSWORD).await;
    // Nothing exists until the link is used.
    assert_eq!(app.browser().sign_in(&email, PASSWORD).await.status, StatusCode::UNAUTHORIZED);
    let link = link_in_mail(&app, CONFIRM, &email).await;
    let token = link.split_once("token=").unwrap().1.to_owned();

    // Opening the link (as a mail scanner would) creates nothing by itself.
    assert_eq!(app.browser().get(&link).await.status, StatusCode::OK);
    assert_eq!(app.browser().sign_in(&email, PASSWORD).await.status, StatusCode::UNAUTHORIZED);

    // Only with the password chosen at sign-up.
    browser.get(&link).await;
    let wrong = browser.post("/signup/confirm", &[("token", &token), ("password", "not the one at all")]).await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.body.contains("not the password chosen at sign-up"));
    assert!(wrong.body.contains(&email) && wrong.body.contains("Create my account"), "the form stays, to try again");
    assert_eq!(app.browser().sign_in(&email, PASSWORD).await.status, StatusCode::UNAUTHORIZED);

    let created = browser.post("/signup/confirm", &[("token", &token), ("password", PASSWORD)]).await;
    assert_eq!((created.status, created.location()), (StatusCode::SEE_OTHER, "/tasks"));
    let tasks = browser.get("/tasks").await;
    assert_eq!(tasks.status, StatusCode::OK, "signed in");
    assert!(browser.get("/account").await.body.contains("Account created"), "recorded as a sign-up");

    // Used once; a second use, or a made-up token, is a clear page.
    let again = app.browser();
    again.get("/signup").await; // for a CSRF token
    let page = again.get(&link).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("This link no longer works"));
    let replay = again.post("/signup/confirm", &[("token", &token), ("password", PASSWORD)]).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    assert!(replay.body.contains("This link no longer works"));
    assert_eq!(again.get(&format!("{CONFIRM}made-up")).await.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_link_in_the_mail_creates_the_account_once_on_sqlite() {
    the_link_in_the_mail_creates_the_account_once(confirming(Backend::Sqlite).await.unwrap()).await;
}

#[tokio::test]
async fn the_link_in_the_mail_creates_the_account_once_on_postgres() {
    let Some(_) = postgres_url() else { return };
    the_link_in_the_mail_creates_the_account_once(confirming(Backend::Postgres).await.unwrap()).await;
}

/// Everything an observer of the response can see, minus the values that
/// differ on every request anyway.
fn observable(page: &Page) -> (StatusCode, String, Vec<String>, String) {
    let cookie_names = page.set_cookies().iter().map(|c| c.split('=').next().unwrap().to_owned()).collect();
    (page.status, page.location().to_owned(), cookie_names, page.body.clone())
}

#[tokio::test]
async fn sign_up_answers_the_same_whether_or_not_the_email_has_an_account() {
    let app = confirming(Backend::Sqlite).await.unwrap();
    let taken = unique_email();
    confirmed_account(&app, &taken).await;

    let (new_browser, taken_browser) = (app.browser(), app.browser());
    let fresh = unique_email();
    let for_new = new_browser.sign_up(&fresh, PASSWORD).await;
    let for_taken = taken_browser.sign_up(&taken, PASSWORD).await;
    assert_eq!(observable(&for_new), observable(&for_taken));
    assert_eq!(for_new.location(), "/signup/sent");
    let (sent_new, sent_taken) = (new_browser.get("/signup/sent").await, taken_browser.get("/signup/sent").await);
    assert_eq!(observable(&sent_new), observable(&sent_taken));
    assert!(sent_new.body.contains("Check your inbox"));

    // The mail tells them apart, for the mailbox's owner only.
    let notice = mails_to(&app, &taken, 2).await.pop().unwrap();
    assert!(notice.contains("already has one"), "{notice}");
    assert!(!notice.contains(CONFIRM), "no link that could create a second account");
    assert!(notice.contains("/forgot-password"));
    assert!(link_in_mail(&app, CONFIRM, &fresh).await.contains("token="));
    // The account that exists is untouched: its password still works.
    assert_eq!(app.browser().sign_in(&taken, PASSWORD).await.status, StatusCode::SEE_OTHER);

    // Invalid input is still refused beside the field, for any address.
    let short = app.browser().sign_up(&unique_email(), "short").await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn sign_up_takes_as_long_for_a_taken_email_as_for_a_new_one() {
    let app = confirming(Backend::Sqlite).await.unwrap();
    let taken = unique_email();
    confirmed_account(&app, &taken).await;
    let browser = app.browser();
    browser.get("/signup").await;
    let token = browser.csrf();
    let median = |email: Option<String>| {
        let (browser, token) = (&browser, token.clone());
        async move {
            let mut times = Vec::new();
            for _ in 0..11 {
                let email = email.clone().unwrap_or_else(unique_email);
                let started = Instant::now();
                let page = browser
                    .post_raw("/signup", &[("email", &email), ("password", PASSWORD), ("csrf_token", &token)], &[])
                    .await;
                times.push(started.elapsed());
                assert_eq!(page.status, StatusCode::SEE_OTHER);
            }
            times.sort();
            times[times.len() / 2]
        }
    };
    let known = median(Some(taken)).await;
    let unknown = median(None).await;
    let (fast, slow) = if known < unknown { (known, unknown) } else { (unknown, known) };
    assert!(slow - fast < slow / 2 + Duration::from_millis(5), "taken {known:?} vs new {unknown:?}");
}

/// Someone signs up with another person's address and a password of their
/// own, hoping its owner follows their link. The owner's password does not
/// open it, and once the owner's own link creates the account, every other
/// link for the address is dead.
#[tokio::test]
async fn an_impostors_sign_up_link_cannot_be_confirmed_by_the_owner() {
    let app = confirming(Backend::Sqlite).await.unwrap();
    let email = unique_email();
    let impostors_password = "the impostor knows this one";
    app.browser().sign_up(&email, impostors_password).await;
    let impostors_link = link_in_mail(&app, CONFIRM, &email).await;
    let owner = app.browser();
    owner.sign_up(&email, PASSWORD).await;
    mails_to(&app, &email, 2).await;
    let owners_link = link_in_mail(&app, CONFIRM, &email).await;
    assert_ne!(impostors_link, owners_link);

    // The owner opens the wrong mail first.
    owner.get(&impostors_link).await;
    let token = |link: &str| link.split_once("token=").unwrap().1.to_owned();
    let refused = owner.post("/signup/confirm", &[("token", &token(&impostors_link)), ("password", PASSWORD)]).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);

    owner.get(&owners_link).await;
    let created = owner.post("/signup/confirm", &[("token", &token(&owners_link)), ("password", PASSWORD)]).await;
    assert_eq!(created.status, StatusCode::SEE_OTHER);
    let impostor = app.browser();
    impostor.get("/signup").await;
    let late =
        impostor.post("/signup/confirm", &[("token", &token(&impostors_link)), ("password", impostors_password)]).await;
    assert_eq!(late.status, StatusCode::BAD_REQUEST, "spent with the owner's");
    assert_eq!(app.browser().sign_in(&email, impostors_password).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.browser().sign_in(&email, PASSWORD).await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn sign_ups_mail_one_address_at_most_three_times_an_hour() {
    let app = confirming(Backend::Sqlite).await.unwrap();
    let email = unique_email();
    for _ in 0..5 {
        let page = app.browser().sign_up(&email, PASSWORD).await;
        assert_eq!((page.status, page.location()), (StatusCode::SEE_OTHER, "/signup/sent"), "the same answer");
    }
    assert_eq!(mails_to(&app, &email, 3).await.len(), 3);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(mails_to(&app, &email, 3).await.len(), 3, "no more than three");
}

#[tokio::test]
async fn an_expired_sign_up_link_fails_with_a_clear_page() {
    let app = confirming(Backend::Sqlite).await.unwrap();
    let email = unique_email();
    let browser = app.browser();
    browser.sign_up(&email, PASSWORD).await;
    let link = link_in_mail(&app, CONFIRM, &email).await;
    let hash = doable::auth::tokens::hash_refresh_token(link.split_once("token=").unwrap().1);
    let past = time::OffsetDateTime::now_utc().replace_nanosecond(0).unwrap() - time::Duration::minutes(1);
    let sql = "UPDATE signup_requests SET expires_at = $1 WHERE token_hash = $2";
    let aged = doable::on_pool!(&app.unrestricted, pool => sqlx::query(sql).bind(past).bind(&hash).execute(pool).await.unwrap().rows_affected());
    assert_eq!(aged, 1);
    let page = browser.get(&link).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("This link no longer works"));
    let post = browser
        .post("/signup/confirm", &[("token", link.split_once("token=").unwrap().1), ("password", PASSWORD)])
        .await;
    assert_eq!(post.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.browser().sign_in(&email, PASSWORD).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_api_answers_202_for_new_and_taken_emails_alike() {
    let app = confirming(Backend::Sqlite).await.unwrap();
    let taken = unique_email();
    confirmed_account(&app, &taken).await;
    let api = Api::new(&app);
    let fresh = unique_email();
    let for_new = api.post("/auth/signup", json!({"email": fresh, "password": PASSWORD})).await;
    let for_taken = api.post("/auth/signup", json!({"email": taken, "password": PASSWORD})).await;
    assert_eq!(for_new.status, StatusCode::ACCEPTED, "{:?}", for_new.body);
    assert_eq!((for_new.status, &for_new.body), (for_taken.status, &for_taken.body));
    assert_eq!(for_new.body["message"], "Check your inbox to finish signing up.");
    // No account, so no token, until the link is used.
    let token = api.post("/auth/token", json!({"email": fresh, "password": PASSWORD})).await;
    assert_eq!(token.status, StatusCode::UNAUTHORIZED);
    let bad = api.post("/auth/signup", json!({"email": "not an email", "password": PASSWORD})).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
}

/// A stranger who names the owner's address first cannot use up its mail:
/// the cap limits how often the address gets mail, not whose request is
/// mailed. Past the cap the newest request waits for the next slot, and
/// older ones still waiting give way to it.
async fn a_strangers_requests_cannot_keep_the_owner_from_signing_up(backend: Backend) {
    let Some(app) = TestApp::spawn_with(
        backend,
        &[("SIGNUP_CONFIRMATION", "email"), ("RATE_LIMIT_SIGNUP_MAIL_PER_ADDRESS", "3/2s")],
    )
    .await
    else {
        return;
    };
    let victim = unique_email();
    for _ in 0..3 {
        app.browser().sign_up(&victim, "the stranger's password").await;
    }
    assert_eq!(mails_to(&app, &victim, 3).await.len(), 3, "the stranger used up the cap");
    // More from the stranger while it is full: they wait, and give way.
    for _ in 0..2 {
        app.browser().sign_up(&victim, "the stranger's password").await;
    }
    let owner = app.browser();
    let sent = owner.sign_up(&victim, PASSWORD).await;
    assert_eq!(sent.location(), "/signup/sent");
    // Within the cap's window, the owner's own link arrives.
    let deadline = std::time::Instant::now() + Duration::from_secs(8);
    let mail = loop {
        let mails = mails_to(&app, &victim, 3).await;
        if mails.len() > 3 {
            break mails.last().unwrap().clone();
        }
        assert!(std::time::Instant::now() < deadline, "the owner's request was never mailed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let token = mail.split_once("token=").unwrap().1.split_whitespace().next().unwrap().to_owned();
    owner.get(&format!("{CONFIRM}{token}")).await;
    let created = owner.post("/signup/confirm", &[("token", &token), ("password", PASSWORD)]).await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "the owner's link takes the owner's password");
    assert_eq!(app.browser().sign_in(&victim, PASSWORD).await.status, StatusCode::SEE_OTHER);
    // The stranger's waiting requests were dropped, not mailed later.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(mails_to(&app, &victim, 4).await.len(), 4);
}

#[tokio::test]
async fn a_strangers_requests_cannot_keep_the_owner_from_signing_up_on_sqlite() {
    a_strangers_requests_cannot_keep_the_owner_from_signing_up(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_strangers_requests_cannot_keep_the_owner_from_signing_up_on_postgres() {
    a_strangers_requests_cannot_keep_the_owner_from_signing_up(Backend::Postgres).await;
}
