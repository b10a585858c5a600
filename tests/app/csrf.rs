//! Cross-site request forgery: no valid token or a foreign origin, no change.

use reqwest::StatusCode;

use crate::common::{PASSWORD, TestApp, unique_email};

crate::on_both_backends!(
    a_form_post_without_a_token_is_403_and_changes_nothing,
    another_sessions_token_is_403,
    a_foreign_origin_is_403_even_with_a_valid_token,
    the_htmx_header_token_is_accepted,
    sign_in_and_sign_up_need_a_token_too,
    no_two_pages_carry_the_same_token_and_each_validates,
);

async fn a_form_post_without_a_token_is_403_and_changes_nothing(app: TestApp) {
    let browser = app.signed_in().await;
    let id = browser.create_task("Keep me").await;
    for (path, form) in [
        ("/tasks".to_owned(), vec![("title", "forged")]),
        (format!("/tasks/{id}"), vec![("title", "forged")]),
        (format!("/tasks/{id}/toggle"), vec![]),
        (format!("/tasks/{id}/delete"), vec![]),
        ("/signout".to_owned(), vec![]),
    ] {
        let response = browser.post_raw(&path, &form, &[]).await;
        assert_eq!(response.status, StatusCode::FORBIDDEN, "{path}");
        let wrong = browser.post_raw(&path, &[form.as_slice(), &[("csrf_token", "bogus")]].concat(), &[]).await;
        assert_eq!(wrong.status, StatusCode::FORBIDDEN, "{path} with a bogus token");
    }
    let list = browser.get("/tasks").await;
    assert_eq!(list.status, StatusCode::OK, "still signed in");
    assert_eq!(list.task_ids(), vec![id]);
    assert!(list.body.contains("Keep me") && !list.body.contains("forged"));
    assert!(!list.body.contains(r#"class="task done""#));
}

async fn another_sessions_token_is_403(app: TestApp) {
    let victim = app.signed_in().await;
    let id = victim.create_task("Victim's task").await;
    let attacker = app.signed_in().await;
    attacker.get("/tasks").await;
    let attackers_token = attacker.csrf();

    let response = victim.post_raw(&format!("/tasks/{id}/delete"), &[("csrf_token", &attackers_token)], &[]).await;
    assert_eq!(response.status, StatusCode::FORBIDDEN);
    let response = victim
        .post_raw(&format!("/tasks/{id}/delete"), &[], &[("X-CSRF-Token", &attackers_token), ("HX-Request", "true")])
        .await;
    assert_eq!(response.status, StatusCode::FORBIDDEN);
    assert_eq!(victim.get("/tasks").await.task_ids(), vec![id]);
}

async fn a_foreign_origin_is_403_even_with_a_valid_token(app: TestApp) {
    let browser = app.signed_in().await;
    browser.get("/tasks").await;
    let token = browser.csrf();
    let forged = browser
        .post_raw("/tasks", &[("title", "forged"), ("csrf_token", &token)], &[("Origin", "https://evil.example")])
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let cross_site = browser
        .post_raw("/tasks", &[("title", "forged"), ("csrf_token", &token)], &[("Sec-Fetch-Site", "cross-site")])
        .await;
    assert_eq!(cross_site.status, StatusCode::FORBIDDEN);
    let own = browser.post_raw("/tasks", &[("title", "mine"), ("csrf_token", &token)], &[("Origin", &app.base)]).await;
    assert_eq!(own.status, StatusCode::SEE_OTHER);
    let list = browser.get("/tasks").await.body;
    assert!(list.contains("mine") && !list.contains("forged"));
}

async fn the_htmx_header_token_is_accepted(app: TestApp) {
    let browser = app.signed_in().await;
    let page = browser.get("/tasks").await;
    let token = browser.csrf();
    assert!(page.body.contains(&format!(r#"hx-headers='{{"X-CSRF-Token": "{token}"}}'"#)), "htmx is given the token");
    let created = browser.post_htmx("/tasks", &[("title", "via htmx")]).await;
    assert_eq!(created.status, StatusCode::OK);
}

async fn sign_in_and_sign_up_need_a_token_too(app: TestApp) {
    let email = unique_email();
    let browser = app.browser();
    let response = browser.post_raw("/signup", &[("email", &email), ("password", PASSWORD)], &[]).await;
    assert_eq!(response.status, StatusCode::FORBIDDEN);
    let response = browser.post_raw("/signin", &[("email", &email), ("password", PASSWORD)], &[]).await;
    assert_eq!(response.status, StatusCode::FORBIDDEN);
    // A token from another browser's sign-in page does not work either.
    let other = app.browser();
    other.get("/signup").await;
    let token = other.csrf();
    let response =
        browser.post_raw("/signup", &[("email", &email), ("password", PASSWORD), ("csrf_token", &token)], &[]).await;
    assert_eq!(response.status, StatusCode::FORBIDDEN);
    assert_eq!(app.browser().sign_in(&email, PASSWORD).await.status, StatusCode::UNAUTHORIZED, "no account was made");
}

/// BREACH: a compressed page that echoes input next to a fixed secret leaks
/// it. The token is masked afresh per response, so there is no fixed string.
async fn no_two_pages_carry_the_same_token_and_each_validates(app: TestApp) {
    let browser = app.signed_in().await;
    browser.get("/tasks?q=csrf_token").await;
    let first = browser.csrf();
    browser.get("/tasks?q=csrf_token").await;
    let second = browser.csrf();
    assert_ne!(first, second, "each response carries a freshly masked token");
    for (title, token) in [("first", &first), ("second", &second)] {
        let response = browser.post_raw("/tasks", &[("title", title), ("csrf_token", token)], &[]).await;
        assert_eq!(response.status, StatusCode::SEE_OTHER, "the {title} token validates");
    }
    let list = browser.get("/tasks").await.body;
    assert!(list.contains("first") && list.contains("second"));
}
