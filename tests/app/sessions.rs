//! Sessions: the JWT cookie, its refresh, revocation and forged tokens.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use doable::db::Db;
use reqwest::{Client, StatusCode, redirect::Policy};
use serde_json::{Value, json};

use crate::common::{Backend, PASSWORD, Page, SECRET, TestApp, unique_email};

crate::on_both_backends!(
    cookies_copied_before_sign_out_are_refused_after_it,
    tampered_expired_unsigned_and_wrong_key_tokens_are_refused,
    an_expired_access_token_is_renewed_from_the_refresh_cookie,
    two_tabs_renewing_at_once_stay_signed_in,
    a_refresh_token_replayed_later_revokes_the_session,
    a_token_stolen_several_rotations_ago_still_revokes_the_session,
    a_session_revoked_behind_the_pages_back_is_refused_everywhere_and_its_browser_signs_in_again,
    writes_from_a_revoked_session_change_nothing_and_leave_the_pool_healthy,
);

/// `name=value` of one cookie in a `Cookie` header.
fn cookie(header: &str, name: &str) -> String {
    header
        .split("; ")
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in {header}"))
        .to_owned()
}

/// GET `path` sending exactly `cookies`, like a copied browser profile.
async fn replay(app: &TestApp, path: &str, cookies: &str) -> Page {
    let client = Client::builder().redirect(Policy::none()).build().unwrap();
    let response = client.get(format!("{}{path}", app.base)).header("cookie", cookies).send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    Page { status, headers, body: response.text().await.unwrap() }
}

fn claims_of(access_cookie: &str) -> Value {
    let token = access_cookie.split_once('=').unwrap().1;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn sign(claims: &Value, secret: &str) -> String {
    let key = jsonwebtoken::EncodingKey::from_secret(secret.as_bytes());
    jsonwebtoken::encode(&jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256), claims, &key).unwrap()
}

async fn cookies_copied_before_sign_out_are_refused_after_it(app: TestApp) {
    let browser = app.signed_in().await;
    browser.get("/tasks").await;
    let copied = browser.cookie_header();
    assert_eq!(replay(&app, "/tasks", &copied).await.status, StatusCode::OK, "the copy works before sign-out");

    browser.post("/signout", &[]).await;

    let replayed = replay(&app, "/tasks", &copied).await;
    assert_eq!(replayed.status, StatusCode::SEE_OTHER);
    assert!(replayed.location().starts_with("/signin"), "{}", replayed.location());
    // The refresh cookie alone cannot bring the session back either.
    let refresh_only = cookie(&copied, "doable_refresh");
    assert!(replay(&app, "/tasks", &refresh_only).await.location().starts_with("/signin"));
}

async fn tampered_expired_unsigned_and_wrong_key_tokens_are_refused(app: TestApp) {
    let browser = app.signed_in().await;
    let access = cookie(&browser.cookie_header(), "doable_access");
    let genuine = access.split_once('=').unwrap().1.to_owned();
    assert_eq!(replay(&app, "/tasks", &access).await.status, StatusCode::OK, "the genuine token works alone");

    let claims = claims_of(&access);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();

    let mut parts: Vec<String> = genuine.split('.').map(str::to_owned).collect();
    let mut other_user = claims.clone();
    other_user["sub"] = json!(uuid::Uuid::new_v4());
    parts[1] = URL_SAFE_NO_PAD.encode(other_user.to_string());
    let tampered = parts.join(".");

    let mut expired_claims = claims.clone();
    expired_claims["iat"] = json!(now - 3600);
    expired_claims["exp"] = json!(now - 60);
    let expired = sign(&expired_claims, SECRET);

    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let wrong_key = sign(&claims, "some-other-secret-that-is-long-enough-too");

    for (what, token) in
        [("tampered", tampered), ("expired", expired), ("alg=none", unsigned), ("wrong key", wrong_key)]
    {
        let response = replay(&app, "/tasks", &format!("doable_access={token}")).await;
        assert_eq!(response.status, StatusCode::SEE_OTHER, "{what} token accepted");
        assert!(response.location().starts_with("/signin"), "{what}");
    }
}

async fn an_expired_access_token_is_renewed_from_the_refresh_cookie(app: TestApp) {
    let browser = app.signed_in().await;
    let refresh = cookie(&browser.cookie_header(), "doable_refresh");

    // The access cookie has expired (the browser dropped it); the refresh cookie remains.
    let response = replay(&app, "/tasks", &refresh).await;
    assert_eq!(response.status, StatusCode::OK);
    let set = response.set_cookies();
    assert!(set.iter().any(|c| c.starts_with("doable_access=")), "a new access token: {set:?}");
    let rotated = set.iter().find(|c| c.starts_with("doable_refresh=")).expect("the refresh token rotates");
    let new_refresh = rotated.split(';').next().unwrap().to_owned();
    assert_ne!(new_refresh, refresh);
    assert_eq!(replay(&app, "/tasks", &new_refresh).await.status, StatusCode::OK);
}

async fn two_tabs_renewing_at_once_stay_signed_in(app: TestApp) {
    let browser = app.signed_in().await;
    let refresh = cookie(&browser.cookie_header(), "doable_refresh");
    let (first, second) = tokio::join!(replay(&app, "/tasks", &refresh), replay(&app, "/tasks", &refresh));
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(second.status, StatusCode::OK);
    // And the same token once more, a moment later, from a third request.
    assert_eq!(replay(&app, "/tasks", &refresh).await.status, StatusCode::OK);
}

/// Moves the moment `refresh_token` was spent into the past, as if time
/// passed. Scoped to that one token: other tests share the database.
pub async fn age_spent_token(db: &Db, refresh_token: &str, seconds: i64) {
    let then = time::OffsetDateTime::now_utc().replace_nanosecond(0).unwrap() - time::Duration::seconds(seconds);
    let hash = doable::auth::tokens::hash_refresh_token(refresh_token);
    let sql = "UPDATE spent_refresh_tokens SET spent_at = $1 WHERE hash = $2";
    let affected = doable::on_pool!(db, pool => sqlx::query(sql).bind(then).bind(&hash).execute(pool).await.unwrap().rows_affected());
    assert_eq!(affected, 1, "the token was spent");
}

/// The `name=value` of a cookie a response set.
fn set_cookie(page: &Page, name: &str) -> String {
    let set = page.set_cookies().into_iter().find(|c| c.starts_with(&format!("{name}="))).expect("cookie set");
    set.split(';').next().unwrap().to_owned()
}

async fn a_refresh_token_replayed_later_revokes_the_session(app: TestApp) {
    let browser = app.signed_in().await;
    let stolen = cookie(&browser.cookie_header(), "doable_refresh");
    let fresh = set_cookie(&replay(&app, "/tasks", &stolen).await, "doable_refresh");

    age_spent_token(&app.unrestricted, stolen.split_once('=').unwrap().1, 60).await;
    let replayed = replay(&app, "/tasks", &stolen).await;
    assert!(replayed.location().starts_with("/signin"), "a spent token outside the grace window is refused");
    assert!(
        replay(&app, "/tasks", &fresh).await.location().starts_with("/signin"),
        "and the whole session is revoked, newest token included"
    );
}

async fn a_token_stolen_several_rotations_ago_still_revokes_the_session(app: TestApp) {
    let browser = app.signed_in().await;
    let stolen = cookie(&browser.cookie_header(), "doable_refresh");
    let second = set_cookie(&replay(&app, "/tasks", &stolen).await, "doable_refresh");
    let third = set_cookie(&replay(&app, "/tasks", &second).await, "doable_refresh");
    let fourth = set_cookie(&replay(&app, "/tasks", &third).await, "doable_refresh");

    age_spent_token(&app.unrestricted, stolen.split_once('=').unwrap().1, 3600).await;
    assert!(replay(&app, "/tasks", &stolen).await.location().starts_with("/signin"));
    assert!(replay(&app, "/tasks", &fourth).await.location().starts_with("/signin"), "the session is revoked");
}

#[tokio::test]
async fn sessions_survive_a_restart_with_the_development_secret() {
    let first = TestApp::spawn_with(Backend::Sqlite, &[("JWT_SECRET", "")]).await.unwrap();
    let browser = first.browser();
    let email = unique_email();
    browser.sign_up(&email, PASSWORD).await;
    let cookies = browser.cookie_header();

    // A second process on the same data directory, also without JWT_SECRET.
    let database_url = format!("sqlite://{}/doable.db", first.data_dir.path().display());
    let dir = tempfile::Builder::new().tempdir_in(first.data_dir.path()).unwrap();
    let data = first.data_dir.path().to_str().unwrap().to_owned();
    let second = TestApp::boot(Backend::Sqlite, dir, &database_url, &[("JWT_SECRET", ""), ("DATA_DIR", &data)]).await;
    assert_eq!(replay(&second, "/tasks", &cookies).await.status, StatusCode::OK);
}

#[tokio::test]
async fn production_cookies_are_secure() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[("ENVIRONMENT", "production")]).await.unwrap();
    let client = Client::builder().redirect(Policy::none()).build().unwrap();
    // By hand: a cookie jar would (rightly) not send Secure cookies over http.
    let form = client.get(format!("{}/signup", app.base)).send().await.unwrap();
    let csrf_cookie = form.headers().get("set-cookie").unwrap().to_str().unwrap().to_owned();
    assert!(csrf_cookie.contains("Secure"), "{csrf_cookie}");
    let token = crate::common::csrf_in(&form.text().await.unwrap()).unwrap();
    let signed_up = client
        .post(format!("{}/signup", app.base))
        .header("cookie", csrf_cookie.split(';').next().unwrap())
        .form(&[("email", unique_email().as_str()), ("password", PASSWORD), ("csrf_token", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_up.status(), StatusCode::SEE_OTHER);
    let cookies: Vec<&str> = signed_up.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap()).collect();
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    for cookie in cookies {
        assert!(
            cookie.contains("Secure") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
            "{cookie}"
        );
    }
}

/// The task list and the API list check the session in the statement that
/// reads the list, other pages when they first need the user: a revoked
/// session is refused by each, and the browser that held it gets a sign-in
/// form it can use (bound to the browser, not to the dead session).
async fn a_session_revoked_behind_the_pages_back_is_refused_everywhere_and_its_browser_signs_in_again(app: TestApp) {
    let email = unique_email();
    let browser = app.browser();
    assert_eq!(browser.sign_up(&email, PASSWORD).await.status, StatusCode::SEE_OTHER);
    browser.create_task("mine").await;
    let api = Client::new();
    let token = api
        .post(format!("{}/api/v1/auth/token", app.base))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let api_list = || api.get(format!("{}/api/v1/tasks", app.base)).bearer_auth(&token).send();
    assert_eq!(api_list().await.unwrap().status(), StatusCode::OK);
    let copied = browser.cookie_header();
    assert_eq!(replay(&app, "/tasks", &copied).await.status, StatusCode::OK);

    let revoke = "UPDATE sessions SET revoked_at = created_at WHERE user_id = (SELECT id FROM users WHERE email = $1)";
    doable::on_pool!(&app.unrestricted, pool => {
        sqlx::query(revoke).bind(&email).execute(pool).await.map(|_| ()).unwrap()
    });

    let list = replay(&app, "/tasks", &copied).await;
    assert_eq!(list.status, StatusCode::SEE_OTHER);
    assert!(list.location().starts_with("/signin"), "{}", list.location());
    assert!(!list.body.contains("mine"));
    assert!(list.set_cookies().iter().any(|c| c.starts_with("doable_access=;")), "{:?}", list.set_cookies());
    let htmx = Client::builder().redirect(Policy::none()).build().unwrap();
    let fragment = htmx
        .get(format!("{}/tasks", app.base))
        .header("cookie", &copied)
        .header("hx-request", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(fragment.status(), StatusCode::UNAUTHORIZED);
    assert!(fragment.headers().contains_key("hx-redirect"));
    assert_eq!(replay(&app, "/account", &copied).await.status, StatusCode::SEE_OTHER);
    let reply = api_list().await.unwrap();
    assert_eq!(reply.status(), StatusCode::UNAUTHORIZED);
    assert!(!reply.text().await.unwrap().contains("mine"));

    // The browser still holds the dead session's cookies when it opens the
    // sign-in page; the form it gets works.
    let again = browser.sign_in(&email, PASSWORD).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.body);
    assert_eq!(again.location(), "/tasks");
    assert!(browser.get("/tasks").await.body.contains("mine"));
}

/// Writes check the session in their own transaction (`UserDb::for_session`),
/// not in one before it: a revoked session's writes, by form, by htmx and by
/// bearer token, are refused and change nothing; the refusals (on
/// PostgreSQL, a check that fails in the round trip that would begin the
/// transaction) leave every pooled connection usable.
async fn writes_from_a_revoked_session_change_nothing_and_leave_the_pool_healthy(app: TestApp) {
    let email = unique_email();
    let browser = app.browser();
    assert_eq!(browser.sign_up(&email, PASSWORD).await.status, StatusCode::SEE_OTHER);
    let id = browser.create_task("mine").await;
    browser.get("/tasks").await;
    let (csrf, copied) = (browser.csrf(), browser.cookie_header());
    let sign_in = || async {
        let reply = Client::new()
            .post(format!("{}/api/v1/auth/token", app.base))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        reply.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned()
    };
    let token = sign_in().await;

    let revoke = "UPDATE sessions SET revoked_at = created_at WHERE user_id = (SELECT id FROM users WHERE email = $1)";
    doable::on_pool!(&app.unrestricted, pool => {
        sqlx::query(revoke).bind(&email).execute(pool).await.map(|_| ()).unwrap()
    });

    let raw = Client::builder().redirect(Policy::none()).build().unwrap();
    let toggle = format!("/tasks/{id}/toggle");
    let (delete, update) = (format!("/tasks/{id}/delete"), format!("/tasks/{id}"));
    let forms: [(&str, &[(&str, &str)]); 6] = [
        ("/tasks", &[("title", "after")]),
        (&toggle, &[]),
        (&delete, &[]),
        (&update, &[("title", "renamed")]),
        ("/tasks/toggle-all", &[("completed", "true")]),
        ("/tasks/clear-completed", &[]),
    ];
    for (path, form) in forms {
        for htmx in [false, true] {
            let mut request = raw.post(format!("{}{path}", app.base)).header("cookie", &copied);
            request = if htmx {
                request.header("hx-request", "true").header("x-csrf-token", &csrf).form(form)
            } else {
                let mut fields = form.to_vec();
                fields.push(("csrf_token", &csrf));
                request.form(&fields)
            };
            let reply = request.send().await.unwrap();
            let cleared = reply
                .headers()
                .get_all("set-cookie")
                .iter()
                .any(|c| c.to_str().unwrap().starts_with("doable_access=;"));
            assert!(cleared, "POST {path} (htmx: {htmx}) left the dead session's cookie");
            if htmx {
                assert_eq!(reply.status(), StatusCode::UNAUTHORIZED, "POST {path} by htmx");
                assert!(reply.headers()["hx-redirect"].to_str().unwrap().starts_with("/signin"));
            } else {
                assert_eq!(reply.status(), StatusCode::SEE_OTHER, "POST {path}");
                assert!(reply.headers()["location"].to_str().unwrap().starts_with("/signin"));
            }
        }
    }
    let api = |method: reqwest::Method, path: &str| {
        Client::new().request(method, format!("{}/api/v1{path}", app.base)).bearer_auth(&token)
    };
    let task = format!("/tasks/{id}");
    for request in [
        api(reqwest::Method::POST, "/tasks").json(&json!({"title": "after"})),
        api(reqwest::Method::PATCH, &task).json(&json!({"completed": true})),
        api(reqwest::Method::DELETE, &task),
        api(reqwest::Method::GET, &task),
        api(reqwest::Method::GET, "/me"),
        api(reqwest::Method::GET, "/sessions"),
    ] {
        let reply = request.send().await.unwrap();
        assert_eq!(reply.status(), StatusCode::UNAUTHORIZED);
        assert!(!reply.text().await.unwrap().contains("mine"));
    }
    // More refusals at once than the pool has connections.
    let refused = futures::future::join_all(
        (0..24).map(|_| api(reqwest::Method::POST, "/tasks").json(&json!({"title": "after"})).send()),
    )
    .await;
    assert!(refused.into_iter().all(|r| r.unwrap().status() == StatusCode::UNAUTHORIZED));

    let titles = "SELECT title, completed, deleted_at IS NOT NULL FROM tasks WHERE user_id = (SELECT id FROM users WHERE email = $1)";
    let rows: Vec<(String, bool, bool)> = doable::on_pool!(&app.unrestricted, pool => {
        sqlx::query_as(titles).bind(&email).fetch_all(pool).await.unwrap()
    });
    assert_eq!(rows, vec![("mine".to_owned(), false, false)], "a revoked session changed something");

    // Every connection still works: a live session's writes at once all land.
    let token = sign_in().await;
    let created = futures::future::join_all((0..24).map(|n| {
        Client::new()
            .post(format!("{}/api/v1/tasks", app.base))
            .bearer_auth(&token)
            .json(&json!({"title": format!("live {n}")}))
            .send()
    }))
    .await;
    assert!(created.into_iter().all(|r| r.unwrap().status() == StatusCode::CREATED));
    let rows: Vec<(String, bool, bool)> = doable::on_pool!(&app.unrestricted, pool => {
        sqlx::query_as(titles).bind(&email).fetch_all(pool).await.unwrap()
    });
    assert_eq!(rows.len(), 25);
}
