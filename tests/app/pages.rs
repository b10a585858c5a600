//! What every response carries: security headers, errors, static files, health.

use reqwest::StatusCode;

use crate::common::{Backend, TestApp};

crate::on_both_backends!(security_headers_are_on_every_page, health_and_readiness_answer);

async fn security_headers_are_on_every_page(app: TestApp) {
    let browser = app.signed_in().await;
    for path in ["/signin", "/signup", "/tasks", "/no-such-page"] {
        let page = browser.get(path).await;
        let header = |name: &str| page.headers.get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        let csp = header("content-security-policy");
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header("referrer-policy"), "strict-origin-when-cross-origin", "{path}");
        assert_eq!(header("x-frame-options"), "DENY", "{path}");
        assert!(!header("x-request-id").is_empty(), "{path}");
        for script in page.body.split("<script").skip(1) {
            let tag = &script[..script.find('>').unwrap()];
            assert!(tag.contains(" src=\"/static/"), "{path}: inline script <script{tag}>");
            assert!(script[tag.len() + 1..].starts_with("</script>"), "{path}: a script with a body");
        }
        assert!(!page.body.contains(" style=\""), "{path}: no inline style");
        assert!(!page.body.contains("hx-on"), "{path}: no hx-on (needs eval)");
    }
}

async fn health_and_readiness_answer(app: TestApp) {
    let browser = app.browser();
    assert_eq!(browser.get("/healthz").await.status, StatusCode::OK);
    assert_eq!(browser.get("/readyz").await.status, StatusCode::OK);
}

#[tokio::test]
async fn readiness_is_503_when_the_database_is_gone() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let browser = app.signed_in().await;
    app.db.close().await;
    assert_eq!(browser.get("/healthz").await.status, StatusCode::OK);
    assert_eq!(browser.get("/readyz").await.status, StatusCode::SERVICE_UNAVAILABLE);
    let page = browser.get("/tasks").await;
    assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(page.body.contains("briefly unavailable"), "a friendly page: {}", page.body);
    assert!(!page.body.to_lowercase().contains("pool"), "no internals");
}

#[tokio::test]
async fn a_client_cannot_choose_its_request_id() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let response = app
        .browser()
        .client
        .get(format!("{}/healthz", app.base))
        .header("x-request-id", "forged-by-client")
        .send()
        .await
        .unwrap();
    let id = response.headers().get("x-request-id").unwrap().to_str().unwrap();
    assert_ne!(id, "forged-by-client");
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
}

#[tokio::test]
async fn unknown_pages_get_a_friendly_404() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let page = app.browser().get("/nope").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.body.contains("<h1>Not found</h1>"));
}

#[tokio::test]
async fn static_files_have_hashed_names_and_cache_forever() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let browser = app.browser();
    let page = browser.get("/signin").await;
    for prefix in ["/static/htmx-2.0.11.min.", "/static/app.", "/static/favicon."] {
        let start = page.body.find(prefix).unwrap_or_else(|| panic!("{prefix} not linked"));
        let end = page.body[start..].find('"').unwrap() + start;
        let url = &page.body[start..end];
        let file = browser.get(url).await;
        assert_eq!(file.status, StatusCode::OK, "{url}");
        assert_eq!(file.headers.get("cache-control").unwrap(), "public, max-age=31536000, immutable");
        assert!(!file.body.is_empty());
    }
    assert_eq!(browser.get("/static/app.css").await.status, StatusCode::NOT_FOUND, "only hashed names");
}
