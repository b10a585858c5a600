//! Sign-up, sign-in and sign-out pages.

use reqwest::StatusCode;

use crate::common::{Browser, PASSWORD, TestApp, unique_email};

crate::on_both_backends!(
    signing_up_sets_http_only_session_cookies_and_lands_on_tasks,
    an_invalid_sign_up_is_422_with_messages_and_keeps_the_email,
    a_taken_email_cannot_sign_up_twice,
    emails_are_trimmed_and_lower_cased,
    wrong_password_and_unknown_email_get_the_same_401,
    sign_in_returns_to_a_same_site_next_but_never_another_host,
    pages_without_a_session_redirect_to_sign_in,
    htmx_requests_without_a_session_get_401_with_hx_redirect,
    signing_out_lands_on_sign_in_and_the_tasks_page_is_closed,
);

async fn signing_up_sets_http_only_session_cookies_and_lands_on_tasks(app: TestApp) {
    let browser = app.browser();
    let response = browser.sign_up(&unique_email(), PASSWORD).await;
    assert_eq!(response.status, StatusCode::SEE_OTHER);
    assert_eq!(response.location(), "/tasks");
    let cookies = response.set_cookies();
    for name in ["doable_access=", "doable_refresh="] {
        let cookie = cookies.iter().find(|c| c.starts_with(name)).unwrap_or_else(|| panic!("{name} not set"));
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(cookie.contains("SameSite=Lax"), "{cookie}");
        assert!(cookie.contains("Path=/"), "{cookie}");
        assert!(!cookie.contains("Domain"), "{cookie}");
        assert!(!cookie.contains("Secure"), "development cookies are not Secure: {cookie}");
    }
    assert_eq!(browser.get("/tasks").await.status, StatusCode::OK);
    assert_eq!(browser.get("/").await.location(), "/tasks");
}

async fn an_invalid_sign_up_is_422_with_messages_and_keeps_the_email(app: TestApp) {
    let browser = app.browser();
    browser.get("/signup").await;
    let response = browser.post("/signup", &[("email", "ann@example.com"), ("password", "short")]).await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(response.body.contains("Use at least 8 characters."), "{}", response.body);
    assert!(response.body.contains(r#"value="ann@example.com""#));
    assert!(response.set_cookies().iter().all(|c| !c.starts_with("doable_access=")));

    let response = browser.post("/signup", &[("email", "not-an-email"), ("password", PASSWORD)]).await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(response.body.contains("Enter an email address"), "{}", response.body);

    let too_long = "x".repeat(1025);
    let response = browser.post("/signup", &[("email", "ann@example.com"), ("password", &too_long)]).await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn a_taken_email_cannot_sign_up_twice(app: TestApp) {
    let email = unique_email();
    assert_eq!(app.browser().sign_up(&email, PASSWORD).await.status, StatusCode::SEE_OTHER);
    let second = app.browser().sign_up(&email, "another password entirely").await;
    assert_eq!(second.status, StatusCode::UNPROCESSABLE_ENTITY);
    // The first account keeps its password.
    assert_eq!(app.browser().sign_in(&email, PASSWORD).await.status, StatusCode::SEE_OTHER);
}

async fn emails_are_trimmed_and_lower_cased(app: TestApp) {
    let email = unique_email();
    let shouted = format!("  {}  ", email.to_uppercase());
    assert_eq!(app.browser().sign_up(&shouted, PASSWORD).await.status, StatusCode::SEE_OTHER);
    assert_eq!(app.browser().sign_in(&email, PASSWORD).await.status, StatusCode::SEE_OTHER);
}

async fn wrong_password_and_unknown_email_get_the_same_401(app: TestApp) {
    let email = unique_email();
    app.browser().sign_up(&email, PASSWORD).await;

    let wrong = app.browser().sign_in(&email, "not the password").await;
    let unknown = app.browser().sign_in(&unique_email(), PASSWORD).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    let message = "That email and password do not match an account.";
    assert!(wrong.body.contains(message) && unknown.body.contains(message));
    assert!(wrong.set_cookies().iter().all(|c| !c.starts_with("doable_access=")));
}

async fn sign_in_returns_to_a_same_site_next_but_never_another_host(app: TestApp) {
    let email = unique_email();
    app.browser().sign_up(&email, PASSWORD).await;

    let browser = app.browser();
    let page = browser.get("/signin?next=%2Ftasks%3Fstatus%3Dactive").await;
    let token = browser.csrf();
    assert!(page.body.contains(r#"name="next" value="/tasks?status=active""#), "{}", page.body);
    let response = browser
        .post_raw(
            "/signin",
            &[("email", &email), ("password", PASSWORD), ("next", "/tasks?status=active"), ("csrf_token", &token)],
            &[],
        )
        .await;
    assert_eq!(response.location(), "/tasks?status=active");

    for hostile in ["//evil.example/", "https://evil.example/", "/\\evil.example"] {
        let browser = app.browser();
        browser.get("/signin").await;
        let token = browser.csrf();
        let response = browser
            .post_raw(
                "/signin",
                &[("email", &email), ("password", PASSWORD), ("next", hostile), ("csrf_token", &token)],
                &[],
            )
            .await;
        assert_eq!(response.location(), "/tasks", "next={hostile}");
    }
}

async fn pages_without_a_session_redirect_to_sign_in(app: TestApp) {
    let browser = app.browser();
    let response = browser.get("/tasks?status=active").await;
    assert_eq!(response.status, StatusCode::SEE_OTHER);
    assert_eq!(response.location(), "/signin?next=%2Ftasks%3Fstatus%3Dactive");
    assert_eq!(browser.get("/").await.location(), "/signin");
    assert_eq!(browser.get("/tasks/1/edit").await.status, StatusCode::SEE_OTHER);
}

async fn htmx_requests_without_a_session_get_401_with_hx_redirect(app: TestApp) {
    let response = app.browser().get_htmx("/tasks").await;
    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers.get("hx-redirect").unwrap(), "/signin?next=%2Ftasks");
    // Back to the page the user was on, not to the fragment's URL.
    let browser = app.browser();
    let url = browser.url("/tasks/5/edit");
    let response = browser
        .client
        .get(&url)
        .header("HX-Request", "true")
        .header("HX-Current-URL", format!("{}/tasks?status=active", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers().get("hx-redirect").unwrap(), "/signin?next=%2Ftasks%3Fstatus%3Dactive");
}

async fn signing_out_lands_on_sign_in_and_the_tasks_page_is_closed(app: TestApp) {
    let browser = app.signed_in().await;
    browser.get("/tasks").await;
    let response = browser.post("/signout", &[]).await;
    assert_eq!(response.status, StatusCode::SEE_OTHER);
    assert_eq!(response.location(), "/signin");
    assert!(browser.get("/tasks").await.location().starts_with("/signin"));
}

#[tokio::test]
async fn sign_out_is_not_a_get() {
    let app = TestApp::spawn(crate::common::Backend::Sqlite).await.unwrap();
    let browser: Browser = app.signed_in().await;
    let response = browser.get("/signout").await;
    assert_ne!(response.status, StatusCode::SEE_OTHER);
    assert_eq!(browser.get("/tasks").await.status, StatusCode::OK, "still signed in");
}
