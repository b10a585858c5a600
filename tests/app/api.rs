//! The JSON API: every status code of the contract, tokens, isolation,
//! pagination, CORS.

use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{Backend, PASSWORD, TestApp, unique_email};

crate::on_both_backends!(
    sign_up_token_me_and_logout_follow_the_contract,
    every_error_is_the_envelope_with_the_right_status,
    tasks_are_created_read_patched_and_deleted,
    another_users_task_is_404_and_unchanged,
    refresh_rotates_and_a_replayed_token_revokes_the_session,
    parallel_refreshes_within_the_grace_window_both_succeed,
    a_token_replayed_inside_the_grace_window_mints_no_second_chain,
    browser_cookies_never_authenticate_the_api,
    keyset_pages_see_every_task_once_while_tasks_come_and_go,
    parallel_patches_on_one_task_never_fail,
    sessions_are_listed_and_revoked,
    the_openapi_document_is_served,
    fifty_concurrent_creations_and_toggles_lose_nothing,
    a_task_deleted_in_the_browser_is_hidden_from_the_api_until_undone,
    the_list_shows_every_field_exactly_as_the_task_itself_does,
);

pub struct Api {
    base: String,
    client: Client,
    token: Option<String>,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Api {
    pub fn new(app: &TestApp) -> Self {
        Api { base: format!("{}/api/v1", app.base), client: Client::new(), token: None }
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        Reply { status, headers, body }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(Method::POST, path, Some(body)).await
    }

    /// A new account with a bearer token.
    pub async fn signed_up(app: &TestApp) -> (Api, Value) {
        let mut api = Api::new(app);
        let email = unique_email();
        let created = api.post("/auth/signup", json!({"email": email, "password": PASSWORD})).await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        let pair = api.post("/auth/token", json!({"email": email, "password": PASSWORD})).await;
        assert_eq!(pair.status, StatusCode::OK, "{:?}", pair.body);
        api.token = Some(pair.body["access_token"].as_str().unwrap().to_owned());
        (api, pair.body)
    }

    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.send(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(Method::DELETE, path, None).await
    }

    pub async fn create(&self, title: &str) -> i64 {
        let reply = self.post("/tasks", json!({ "title": title })).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
        reply.body["id"].as_i64().unwrap()
    }

    /// A new list of the caller's: its id.
    pub async fn new_list(&self, name: &str) -> i64 {
        let reply = self.post("/lists", json!({ "name": name })).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
        reply.body["id"].as_i64().unwrap()
    }

    /// A new task in the caller's list `list`: its id.
    pub async fn task_in(&self, title: &str, list: i64) -> i64 {
        let reply = self.post("/tasks", json!({ "title": title, "list_id": list })).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
        assert_eq!(reply.body["list_id"], list);
        reply.body["id"].as_i64().unwrap()
    }
}

impl Reply {
    /// The error envelope's code; empty for a success.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }
}

fn assert_error(reply: &Reply, status: StatusCode, code: &str) {
    assert_eq!(reply.status, status, "{:?}", reply.body);
    assert_eq!(reply.body["error"]["code"], code, "{:?}", reply.body);
    assert!(reply.body["error"]["message"].is_string());
}

async fn sign_up_token_me_and_logout_follow_the_contract(app: TestApp) {
    let mut api = Api::new(&app);
    let email = unique_email();
    let created = api
        .post(
            "/auth/signup",
            json!({"email": format!(" {} ", email.to_uppercase()), "password": PASSWORD, "name": "Ann"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.body["user"]["email"], email);
    assert_eq!(created.body["user"]["name"], "Ann");
    assert!(created.body["user"].get("password_hash").is_none());

    let taken = api.post("/auth/signup", json!({"email": email, "password": PASSWORD})).await;
    assert_error(&taken, StatusCode::CONFLICT, "email_taken");

    let wrong = api.post("/auth/token", json!({"email": email, "password": "not the password"})).await;
    assert_error(&wrong, StatusCode::UNAUTHORIZED, "invalid_credentials");
    let unknown = api.post("/auth/token", json!({"email": unique_email(), "password": PASSWORD})).await;
    assert_eq!(unknown.body, wrong.body, "no hint whether the email exists");

    let pair = api.post("/auth/token", json!({"email": email, "password": PASSWORD})).await;
    assert_eq!(pair.status, StatusCode::OK);
    assert_eq!(pair.body["token_type"], "Bearer");
    assert_eq!(pair.body["expires_in"], 900);
    assert!(pair.body["refresh_token"].is_string());
    api.token = Some(pair.body["access_token"].as_str().unwrap().to_owned());

    let me = api.get("/me").await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["email"], email);
    let keys: Vec<&str> = me.body.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["created_at", "email", "id", "name"]);

    assert_eq!(api.post("/auth/logout", json!({})).await.status, StatusCode::NO_CONTENT);
    let after = api.get("/me").await;
    assert_error(&after, StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(after.headers.get("www-authenticate").unwrap(), "Bearer");
    let refreshed = api.post("/auth/refresh", json!({"refresh_token": pair.body["refresh_token"]})).await;
    assert_eq!(refreshed.status, StatusCode::UNAUTHORIZED, "the session's refresh token is dead too");
}

async fn every_error_is_the_envelope_with_the_right_status(app: TestApp) {
    let (api, _) = Api::signed_up(&app).await;
    let url = format!("{}/api/v1/tasks", app.base);
    let token = api.token.clone().unwrap();
    let client = Client::new();
    let send = |body: Vec<u8>, content_type: &'static str| {
        client.post(&url).bearer_auth(&token).header("content-type", content_type).body(body).send()
    };
    let reply = |r: reqwest::Response| async move {
        let status = r.status();
        let headers = r.headers().clone();
        Reply { status, headers, body: r.json().await.unwrap() }
    };

    assert_error(
        &reply(send(b"{\"title\": ".to_vec(), "application/json").await.unwrap()).await,
        StatusCode::BAD_REQUEST,
        "malformed_json",
    );
    assert_error(
        &reply(send(b"{\"title\": \"x\"}".to_vec(), "text/plain").await.unwrap()).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    let huge = serde_json::to_vec(&json!({"title": "x", "description": "y".repeat(200_000)})).unwrap();
    assert_error(
        &reply(send(huge, "application/json").await.unwrap()).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );

    let invalid = api.post("/tasks", json!({"title": "  ", "due_date": "soon"})).await;
    assert_error(&invalid, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(invalid.body["error"]["fields"]["title"].is_string());
    assert!(invalid.body["error"]["fields"]["due_date"].is_string());
    let unknown_field = api.post("/tasks", json!({"title": "x", "colour": "red"})).await;
    assert_error(&unknown_field, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(unknown_field.body["error"]["fields"]["colour"].is_string(), "unknown fields are rejected, by name");
    let wrong_type = api.post("/tasks", json!({"title": 5})).await;
    assert_error(&wrong_type, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");

    for bad_limit in ["0", "101", "abc", "-1"] {
        let reply = api.get(&format!("/tasks?limit={bad_limit}")).await;
        assert_error(&reply, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert!(reply.body["error"]["fields"]["limit"].is_string());
    }
    assert_error(&api.get("/tasks?status=done").await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_error(&api.get("/tasks?cursor=zzz").await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");

    assert_error(&api.get("/tasks/999999999").await, StatusCode::NOT_FOUND, "not_found");
    assert_error(&api.get("/tasks/abc").await, StatusCode::NOT_FOUND, "not_found");
    assert_error(&api.get("/no-such-route").await, StatusCode::NOT_FOUND, "not_found");

    let anonymous = Api::new(&app);
    let reply = anonymous.get("/tasks").await;
    assert_error(&reply, StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(reply.headers.get("www-authenticate").unwrap(), "Bearer");
    let garbage = Api { token: Some("not.a.jwt".into()), ..Api::new(&app) };
    assert_error(&garbage.get("/tasks").await, StatusCode::UNAUTHORIZED, "unauthorized");

    for reply in [&invalid, &unknown_field, &wrong_type] {
        let text = reply.body.to_string().to_lowercase();
        assert!(!text.contains("sqlx") && !text.contains("select ") && !text.contains("panicked"), "{text}");
    }
}

async fn tasks_are_created_read_patched_and_deleted(app: TestApp) {
    let (api, _) = Api::signed_up(&app).await;
    let title = "Ünïcødé ✓ 任务 🎉 \u{200d} e\u{301}";
    let created =
        api.post("/tasks", json!({"title": title, "description": "line 1\nline 2", "due_date": "2030-05-06"})).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let id = created.body["id"].as_i64().unwrap();
    assert_eq!(created.headers.get("location").unwrap().to_str().unwrap(), format!("/api/v1/tasks/{id}"));
    assert_eq!(created.body["title"], title, "unicode round-trips byte-exact");
    assert_eq!(created.body["completed"], false);

    let fetched = api.get(&format!("/tasks/{id}")).await;
    assert_eq!(fetched.status, StatusCode::OK);
    assert_eq!(fetched.body, created.body);

    let patched = api.send(Method::PATCH, &format!("/tasks/{id}"), Some(json!({"completed": true}))).await;
    assert_eq!(patched.status, StatusCode::OK);
    assert_eq!(patched.body["completed"], true);
    assert!(patched.body["completed_at"].is_string());
    assert_eq!(patched.body["title"], title, "fields not sent are kept");
    assert_eq!(patched.body["due_date"], "2030-05-06");

    let cleared =
        api.send(Method::PATCH, &format!("/tasks/{id}"), Some(json!({"due_date": null, "description": null}))).await;
    assert_eq!(cleared.body["due_date"], Value::Null);
    assert_eq!(cleared.body["description"], Value::Null);
    let null_title = api.send(Method::PATCH, &format!("/tasks/{id}"), Some(json!({"title": null}))).await;
    assert_error(&null_title, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");

    let deleted = api.send(Method::DELETE, &format!("/tasks/{id}"), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_error(&api.get(&format!("/tasks/{id}")).await, StatusCode::NOT_FOUND, "not_found");
}

async fn another_users_task_is_404_and_unchanged(app: TestApp) {
    let (alice, _) = Api::signed_up(&app).await;
    let id = alice.create("Alice's").await;
    let before = alice.get(&format!("/tasks/{id}")).await.body;
    let (bob, _) = Api::signed_up(&app).await;

    assert_error(&bob.get(&format!("/tasks/{id}")).await, StatusCode::NOT_FOUND, "not_found");
    let patch =
        bob.send(Method::PATCH, &format!("/tasks/{id}"), Some(json!({"title": "pwned", "completed": true}))).await;
    assert_error(&patch, StatusCode::NOT_FOUND, "not_found");
    assert_error(&bob.send(Method::DELETE, &format!("/tasks/{id}"), None).await, StatusCode::NOT_FOUND, "not_found");
    let listed = bob.get("/tasks?q=Alice").await;
    assert_eq!(listed.body["items"], json!([]), "list and search never cross users");

    assert_eq!(alice.get(&format!("/tasks/{id}")).await.body, before);
}

async fn refresh_rotates_and_a_replayed_token_revokes_the_session(app: TestApp) {
    let (api, pair) = Api::signed_up(&app).await;
    let first = pair["refresh_token"].clone();
    let second = api.post("/auth/refresh", json!({"refresh_token": first})).await;
    assert_eq!(second.status, StatusCode::OK);
    assert_ne!(second.body["refresh_token"], first, "rotated on use");
    let new_access = Api { token: Some(second.body["access_token"].as_str().unwrap().to_owned()), ..Api::new(&app) };
    assert_eq!(new_access.get("/me").await.status, StatusCode::OK);

    crate::sessions::age_spent_token(&app.unrestricted, first.as_str().unwrap(), 60).await;
    let replay = api.post("/auth/refresh", json!({"refresh_token": first})).await;
    assert_error(&replay, StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(new_access.get("/me").await.status, StatusCode::UNAUTHORIZED, "the newest access token dies too");
    let newest = api.post("/auth/refresh", json!({"refresh_token": second.body["refresh_token"]})).await;
    assert_eq!(newest.status, StatusCode::UNAUTHORIZED, "and the newest refresh token");
    assert_error(
        &api.post("/auth/refresh", json!({"refresh_token": "made-up"})).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
}

async fn parallel_refreshes_within_the_grace_window_both_succeed(app: TestApp) {
    let (api, pair) = Api::signed_up(&app).await;
    let body = json!({"refresh_token": pair["refresh_token"]});
    let (a, b) = tokio::join!(api.post("/auth/refresh", body.clone()), api.post("/auth/refresh", body.clone()));
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(b.status, StatusCode::OK);
    assert_eq!(a.body["refresh_token"], b.body["refresh_token"], "one successor, not two chains");
    assert_ne!(a.body["refresh_token"], pair["refresh_token"]);
}

/// A thief replaying a token the client spent seconds ago gets nothing the
/// client does not also hold: the same successor. When the client renews
/// again, the thief's copy is spent and, once the grace has passed, replaying
/// it ends the session instead of keeping a chain alive.
async fn a_token_replayed_inside_the_grace_window_mints_no_second_chain(app: TestApp) {
    let (api, pair) = Api::signed_up(&app).await;
    let spent = pair["refresh_token"].clone();
    let victims = api.post("/auth/refresh", json!({"refresh_token": spent})).await;
    assert_eq!(victims.status, StatusCode::OK);
    let thiefs = api.post("/auth/refresh", json!({"refresh_token": spent})).await;
    assert_eq!(thiefs.status, StatusCode::OK);
    assert_eq!(
        thiefs.body["refresh_token"], victims.body["refresh_token"],
        "the thief holds only what the victim holds"
    );

    let victims_next = api.post("/auth/refresh", json!({"refresh_token": victims.body["refresh_token"]})).await;
    assert_eq!(victims_next.status, StatusCode::OK);
    crate::sessions::age_spent_token(&app.unrestricted, victims.body["refresh_token"].as_str().unwrap(), 60).await;
    let replay = api.post("/auth/refresh", json!({"refresh_token": thiefs.body["refresh_token"]})).await;
    assert_error(&replay, StatusCode::UNAUTHORIZED, "unauthorized");
    let after = api.post("/auth/refresh", json!({"refresh_token": victims_next.body["refresh_token"]})).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED, "the reuse revoked the whole session");
}

async fn browser_cookies_never_authenticate_the_api(app: TestApp) {
    let browser = app.signed_in().await;
    let cookies = browser.cookie_header();
    let response = Client::new().get(format!("{}/api/v1/me", app.base)).header("cookie", cookies).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // Nor does an API request need (or check) a CSRF token.
    let (api, _) = Api::signed_up(&app).await;
    assert_eq!(api.post("/tasks", json!({"title": "no csrf here"})).await.status, StatusCode::CREATED);
}

async fn keyset_pages_see_every_task_once_while_tasks_come_and_go(app: TestApp) {
    let (api, _) = Api::signed_up(&app).await;
    let mut ids = Vec::new();
    for n in 0..120 {
        ids.push(api.create(&format!("task {n}")).await);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/tasks?limit=50&cursor={c}"),
            None => "/tasks?limit=50".to_owned(),
        };
        let page = api.get(&path).await;
        assert_eq!(page.status, StatusCode::OK);
        let items = page.body["items"].as_array().unwrap();
        assert!(items.len() <= 50);
        seen.extend(items.iter().map(|t| t["id"].as_i64().unwrap()));
        pages += 1;
        if pages == 1 {
            // Between pages: a new task arrives (newest, so before the cursor)
            // and one already seen is deleted. Neither shifts what comes next.
            api.create("added meanwhile").await;
            let seen_one = seen[3];
            assert_eq!(
                api.send(Method::DELETE, &format!("/tasks/{seen_one}"), None).await.status,
                StatusCode::NO_CONTENT
            );
        }
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let mut expected = ids.clone();
    expected.reverse();
    assert_eq!(seen, expected, "every original task exactly once, newest first");
}

async fn parallel_patches_on_one_task_never_fail(app: TestApp) {
    let (api, _) = Api::signed_up(&app).await;
    let id = api.create("contended").await;
    let path = format!("/tasks/{id}");
    let patches = (0..20).map(|n| {
        let body = if n % 2 == 0 { json!({"completed": n % 4 == 0}) } else { json!({"title": format!("title {n}")}) };
        api.send(Method::PATCH, &path, Some(body))
    });
    for reply in futures::future::join_all(patches).await {
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    }
}

async fn sessions_are_listed_and_revoked(app: TestApp) {
    let (api, _) = Api::signed_up(&app).await;
    let email = api.get("/me").await.body["email"].as_str().unwrap().to_owned();
    let other = api.post("/auth/token", json!({"email": email, "password": PASSWORD})).await;
    let other = Api { token: Some(other.body["access_token"].as_str().unwrap().to_owned()), ..Api::new(&app) };

    let listed = api.get("/sessions").await;
    assert_eq!(listed.status, StatusCode::OK);
    let sessions = listed.body.as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    let other_id = sessions.iter().find(|s| s["current"] == false).unwrap()["id"].as_str().unwrap().to_owned();

    let (stranger, _) = Api::signed_up(&app).await;
    let theirs = stranger.send(Method::DELETE, &format!("/sessions/{other_id}"), None).await;
    assert_error(&theirs, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(other.get("/me").await.status, StatusCode::OK);

    assert_eq!(api.send(Method::DELETE, &format!("/sessions/{other_id}"), None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(other.get("/me").await.status, StatusCode::UNAUTHORIZED, "revoked at once");
    assert_eq!(api.get("/sessions").await.body.as_array().unwrap().len(), 1);
    assert_error(&api.send(Method::DELETE, "/sessions/not-a-uuid", None).await, StatusCode::NOT_FOUND, "not_found");
}

async fn the_openapi_document_is_served(app: TestApp) {
    let doc = Api::new(&app).get("/openapi.json").await;
    assert_eq!(doc.status, StatusCode::OK);
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3."));
    assert!(doc.body["paths"]["/api/v1/tasks/{id}"]["patch"].is_object());
}

#[tokio::test]
async fn the_api_answers_503_in_its_envelope_when_the_database_is_gone() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let (api, _) = Api::signed_up(&app).await;
    app.db.close().await;
    assert_error(&api.get("/tasks").await, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
}

#[tokio::test]
async fn cors_is_off_by_default() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let preflight = Client::new()
        .request(Method::OPTIONS, format!("{}/api/v1/tasks", app.base))
        .header("origin", "https://app.example")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert!(preflight.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn cors_allows_exactly_the_listed_origins_without_credentials() {
    let app =
        TestApp::spawn_with(Backend::Sqlite, &[("CORS_ALLOWED_ORIGINS", "https://app.example, https://other.example")])
            .await
            .unwrap();
    let preflight = |origin: &'static str| {
        Client::new()
            .request(Method::OPTIONS, format!("{}/api/v1/tasks", app.base))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization, content-type")
            .send()
    };
    let allowed = preflight("https://app.example").await.unwrap();
    assert_eq!(allowed.headers().get("access-control-allow-origin").unwrap(), "https://app.example");
    assert!(allowed.headers().get("access-control-allow-credentials").is_none());
    let denied = preflight("https://evil.example").await.unwrap();
    assert!(denied.headers().get("access-control-allow-origin").is_none());

    let vars = [("CORS_ALLOWED_ORIGINS", "*"), ("JWT_SECRET", crate::common::SECRET)];
    let wildcard = doable::Config::from_vars(&vars.map(|(k, v)| (k.to_owned(), v.to_owned())).into());
    assert_eq!(wildcard.unwrap_err().variable, "CORS_ALLOWED_ORIGINS");
}

async fn fifty_concurrent_creations_and_toggles_lose_nothing(app: TestApp) {
    let (api, _) = Api::signed_up(&app).await;
    let creations = (0..50).map(|n| api.post("/tasks", json!({ "title": format!("parallel {n}") })));
    for reply in futures::future::join_all(creations).await {
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    }
    let page = api.get("/tasks?limit=100").await;
    assert_eq!(page.body["items"].as_array().unwrap().len(), 50);

    let id = page.body["items"][0]["id"].as_i64().unwrap();
    let path = format!("/tasks/{id}");
    let toggles = (0..50).map(|n| api.send(Method::PATCH, &path, Some(json!({ "completed": n % 2 == 0 }))));
    for reply in futures::future::join_all(toggles).await {
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    }
    assert_eq!(api.get("/tasks?limit=100").await.body["items"].as_array().unwrap().len(), 50);
}

async fn a_task_deleted_in_the_browser_is_hidden_from_the_api_until_undone(app: TestApp) {
    let email = unique_email();
    let browser = app.browser();
    browser.sign_up(&email, PASSWORD).await;
    let id = browser.create_task("Shared").await;
    let mut api = Api::new(&app);
    let pair = api.post("/auth/token", json!({"email": email, "password": PASSWORD})).await;
    api.token = Some(pair.body["access_token"].as_str().unwrap().to_owned());

    let deleted = browser.post_htmx(&format!("/tasks/{id}/delete"), &[]).await;
    let marker = r#"name="batch" value=""#;
    let start = deleted.body.find(marker).expect("an Undo form") + marker.len();
    let batch = deleted.body[start..start + 36].to_owned();

    assert_error(&api.get(&format!("/tasks/{id}")).await, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(api.get("/tasks").await.body["items"], json!([]));
    let patched = api.send(Method::PATCH, &format!("/tasks/{id}"), Some(json!({"completed": true}))).await;
    assert_error(&patched, StatusCode::NOT_FOUND, "not_found");
    assert_error(&api.send(Method::DELETE, &format!("/tasks/{id}"), None).await, StatusCode::NOT_FOUND, "not_found");

    browser.post("/tasks/undo", &[("batch", &batch)]).await;
    let back = api.get(&format!("/tasks/{id}")).await;
    assert_eq!(back.status, StatusCode::OK);
    assert_eq!(back.body["title"], "Shared");
    assert_eq!(back.body["completed"], false, "restored unchanged");
}

/// The list's items are the tasks as `GET /tasks/{id}` shows them, field for
/// field, whatever their text holds (on SQLite the database writes the list's
/// JSON itself: `db::tasks::list_json`), and its pages, walked by cursor, are
/// the same tasks in the same order as one long page.
async fn the_list_shows_every_field_exactly_as_the_task_itself_does(app: TestApp) {
    let (api, _) = Api::signed_up(&app).await;
    let tricky = [
        json!({"title": "plain"}),
        json!({"title": "quotes \" and \\ backslash", "description": "two\nlines\tand a tab"}),
        json!({"title": "ünïcödé ✓ 🦀", "description": "</script><b>&amp;</b>", "due_date": "2026-12-31"}),
        json!({"title": "done", "completed": true, "due_date": "2027-01-01", "priority": 1}),
        json!({"title": "low priority", "priority": 4}),
        json!({"title": "no description", "description": ""}),
    ];
    let mut ids = Vec::new();
    for body in &tricky {
        let reply = api.post("/tasks", body.clone()).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
        ids.push(reply.body["id"].as_i64().unwrap());
    }
    let gone = api.create("deleted").await;
    assert_eq!(api.send(Method::DELETE, &format!("/tasks/{gone}"), None).await.status, StatusCode::NO_CONTENT);

    let list = api.get("/tasks?limit=100").await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.headers["content-type"], "application/json");
    assert_eq!(list.body["next_cursor"], Value::Null);
    let items = list.body["items"].as_array().unwrap();
    let listed: Vec<i64> = items.iter().map(|t| t["id"].as_i64().unwrap()).collect();
    ids.reverse();
    assert_eq!(listed, ids, "newest first, the deleted one gone");
    for item in items {
        let one = api.get(&format!("/tasks/{}", item["id"])).await;
        assert_eq!(&one.body, item, "the list and the task disagree");
    }
    assert_eq!(items[2]["completed"], true);
    assert_eq!(items[2]["priority"], 1);
    assert!(items[2]["completed_at"].is_string());
    assert_eq!(items[3]["description"], "</script><b>&amp;</b>");

    let mut walked = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = api.get(&format!("/tasks?limit=2{cursor}")).await;
        assert_eq!(page.status, StatusCode::OK);
        walked.extend(page.body["items"].as_array().unwrap().iter().cloned());
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(&walked, items, "pages of two are the long page");
    let active = api.get("/tasks?status=completed&q=DONE").await;
    assert_eq!(active.body["items"].as_array().unwrap(), &vec![items[2].clone()]);
}
