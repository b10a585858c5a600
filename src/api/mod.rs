//! The JSON API under `/api/v1`, for scripts and apps.
//!
//! Authenticated by `Authorization: Bearer <access token>` only — cookies are
//! never read here, so no CSRF applies. Every error is the envelope
//! `{"error": {"code", "message", "fields"?}}`. The OpenAPI document is built
//! from the handlers' annotations as the router is assembled, so a route
//! cannot exist without being documented.

mod auth;
mod labels;
mod lists;
mod sessions;
mod tasks;

pub use labels::LabelJson;
pub use lists::ListJson;
pub use tasks::TaskJson;

use std::collections::BTreeMap;

use axum::{
    Json, Router,
    body::to_bytes,
    extract::{FromRequest, FromRequestParts, Request},
    http::{HeaderValue, Method, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
    routing::{any, get},
};
use serde::{Deserialize, Deserializer, Serialize, de::DeserializeOwned};
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa::{
    Modify, OpenApi, ToSchema,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    app::AppState,
    auth::{Claim, CurrentUser, bearer_claim, session::check},
    error::AppError,
};

/// The largest JSON body accepted: a 10,000-character description, escaped,
/// fits with room to spare.
pub const MAX_JSON_BYTES: usize = 128 * 1024;

#[derive(OpenApi)]
#[openapi(
    info(title = "doable API", version = "1", description = "Your tasks, for scripts and apps."),
    modifiers(&BearerAuth),
    components(schemas(ErrorBody, ErrorDetail)),
    tags(
        (name = "auth", description = "Accounts and tokens"),
        (name = "tasks", description = "Your tasks"),
        (name = "lists", description = "Your lists: every task is in one"),
        (name = "labels", description = "Your labels: a task carries any number"),
        (name = "sessions", description = "Your signed-in devices"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

/// The API's routes and its OpenAPI document, from one list of handlers.
pub fn router_and_doc() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(auth::signup))
        .routes(routes!(auth::token))
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::me))
        .routes(routes!(tasks::list, tasks::create))
        .routes(routes!(tasks::get, tasks::update, tasks::delete))
        .routes(routes!(tasks::move_task))
        .routes(routes!(lists::list, lists::create))
        .routes(routes!(lists::get, lists::update, lists::delete))
        .routes(routes!(labels::list, labels::create))
        .routes(routes!(labels::get, labels::update, labels::delete))
        .routes(routes!(labels::merge))
        .routes(routes!(sessions::list))
        .routes(routes!(sessions::revoke))
        .split_for_parts()
}

/// The API router, with its OpenAPI document served beside it.
pub fn router(state: &AppState) -> Router<AppState> {
    let (routes, doc) = router_and_doc();
    let doc = serde_json::to_string(&doc).unwrap_or_else(|_| "{}".into());
    let mut router = routes
        .route(
            "/api/v1/openapi.json",
            get(move || async move { ([(header::CONTENT_TYPE, "application/json")], doc.clone()) }),
        )
        // Unknown API paths answer in the API's envelope, not with an HTML page.
        .route(
            "/api/{*rest}",
            any(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "No such API route.") }),
        );
    router = router.layer(axum::middleware::map_response(method_not_allowed_in_envelope));
    if let Some(cors) = cors(&state.config.cors_allowed_origins) {
        router = router.layer(cors);
    }
    router
}

/// axum answers a method a route lacks with an empty 405 and `Allow`
/// (before any handler, so before the bearer check); the API says it in its
/// envelope too.
async fn method_not_allowed_in_envelope(response: Response) -> Response {
    if response.status() != StatusCode::METHOD_NOT_ALLOWED {
        return response;
    }
    let allow = response.headers().get(header::ALLOW).cloned();
    let methods = allow.as_ref().and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let mut answer = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("This route does not take that method; it takes {methods}."),
    )
    .into_response();
    if let Some(allow) = allow {
        answer.headers_mut().insert(header::ALLOW, allow);
    }
    answer
}

/// Cross-origin access for exactly the listed origins, without credentials
/// (the API uses bearer tokens, never cookies). No list, no CORS headers.
fn cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let origins: Vec<HeaderValue> = origins.iter().filter_map(|o| o.parse().ok()).collect();
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
            .expose_headers([header::LOCATION, header::WWW_AUTHENTICATE, header::RETRY_AFTER])
            .max_age(std::time::Duration::from_secs(600)),
    )
}

/// The error envelope.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable, machine-readable code such as `validation_failed`.
    pub code: String,
    /// A sentence for people.
    pub message: String,
    /// For `validation_failed`: what is wrong with each field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<BTreeMap<String, String>>,
}

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    fields: Option<BTreeMap<String, String>>,
    retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), fields: None, retry_after: None }
    }

    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "A valid bearer token is required.")
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "Not found.")
    }

    /// 422 with a message per field.
    pub fn validation<'a>(fields: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let fields: BTreeMap<String, String> = fields.into_iter().map(|(f, m)| (f.to_owned(), m.to_owned())).collect();
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "validation_failed",
            message: "Some fields are not valid.".into(),
            fields: Some(fields),
            retry_after: None,
        }
    }
}

impl From<AppError> for ApiError {
    fn from(err: AppError) -> Self {
        let status = err.status();
        match err {
            AppError::BadRequest => Self::new(status, "bad_request", "The request could not be read."),
            AppError::NotFound => Self::not_found(),
            AppError::SessionEnded => Self::unauthorized(),
            AppError::Forbidden => Self::new(status, "forbidden", "Not allowed."),
            AppError::PayloadTooLarge => Self::new(status, "payload_too_large", "The body is too large."),
            AppError::QuotaExceeded(what) => Self::new(status, "quota_exceeded", what),
            AppError::TooManyRequests(seconds) => {
                let mut error = Self::new(status, "too_many_requests", "Too many attempts; wait and try again.");
                error.retry_after = Some(seconds);
                error
            }
            AppError::Busy(seconds) => {
                let mut error = Self::new(status, "busy", "Too much password work at once; try again shortly.");
                error.retry_after = Some(seconds);
                error
            }
            AppError::Unavailable(cause) => {
                tracing::error!(error = %cause, "database unavailable");
                Self::new(status, "unavailable", "The database is unavailable; try again shortly.")
            }
            AppError::Internal(cause) => {
                tracing::error!(error = %cause, "request failed");
                Self::new(status, "internal", "An unexpected error happened on our side.")
            }
        }
    }
}

impl From<crate::db::DbError> for ApiError {
    fn from(err: crate::db::DbError) -> Self {
        AppError::from(err).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body =
            ErrorBody { error: ErrorDetail { code: self.code.into(), message: self.message, fields: self.fields } };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// A JSON body whose every rejection is our envelope: 415 without a JSON
/// content type, 413 over [`MAX_JSON_BYTES`], 400 for malformed JSON, 422 for
/// JSON of the wrong shape (unknown fields included).
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, _: &S) -> Result<Self, Self::Rejection> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|mime| mime.trim().to_ascii_lowercase())
            .is_some_and(|mime| {
                mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
            });
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Send the body as Content-Type: application/json.",
            ));
        }
        let bytes = to_bytes(request.into_body(), MAX_JSON_BYTES).await.map_err(|_| {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "The body is larger than 128 KiB.")
        })?;
        serde_json::from_slice(&bytes).map(ApiJson).map_err(|err| match err.classify() {
            serde_json::error::Category::Data => {
                let mut error = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", err.to_string());
                if let Some(field) = field_named_in(&err.to_string()) {
                    error.fields = Some(BTreeMap::from([(field, err.to_string())]));
                }
                error
            }
            _ => ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", format!("The body is not valid JSON: {err}")),
        })
    }
}

/// serde names the field in "missing field `x`" and "unknown field `x`".
fn field_named_in(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let end = message[start..].find('`')? + start;
    (message.contains("missing field") || message.contains("unknown field")).then(|| message[start..end].to_owned())
}

/// For PATCH: tells a field sent as `null` (`Some(None)`) from one not sent (`None`).
fn double_option<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A name the owner already uses for another of their `what` (a list, a
/// label): 409 `name_taken`, as the contract says.
fn name_taken(what: &'static str) -> impl Fn(crate::db::DbError) -> ApiError {
    move |err| match err {
        crate::db::DbError::Conflict(_) => {
            ApiError::new(StatusCode::CONFLICT, "name_taken", format!("You have a {what} of that name."))
        }
        other => other.into(),
    }
}

/// An id in a JSON body: a whole number, written `7` or (as JSON Schema's
/// `integer` allows) `7.0`.
pub(crate) fn whole_number<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let number = serde_json::Number::deserialize(d)?;
    number
        .as_i64()
        .or_else(|| number.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15).map(|f| f as i64))
        .ok_or_else(|| serde::de::Error::custom(format!("invalid value: {number}, expected a whole number")))
}

/// The user a bearer token belongs to.
pub struct ApiUser(pub CurrentUser);

impl FromRequestParts<AppState> for ApiUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let ApiClaim(claim) = ApiClaim::from_request_parts(parts, state).await?;
        match check(state, claim).await? {
            Some(user) => Ok(ApiUser(user)),
            None => Err(ApiError::unauthorized()),
        }
    }
}

/// What a genuine, unexpired bearer token claims, its session not checked
/// yet: for a handler whose own statement checks it (`auth::Claim`), which
/// answers 401 when that finds the session dead.
pub struct ApiClaim(pub Claim);

impl FromRequestParts<AppState> for ApiClaim {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .and_then(|(_, token)| bearer_claim(state, token.trim()))
            .map(ApiClaim)
            .ok_or_else(ApiError::unauthorized)
    }
}

/// A row id from the path; anything that is not one is simply not found.
fn path_id(raw: &str) -> ApiResult<i64> {
    crate::domain::parse_id(raw).ok_or_else(ApiError::not_found)
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_messages_name_their_field() {
        assert_eq!(field_named_in("missing field `title` at line 1 column 2").as_deref(), Some("title"));
        assert_eq!(field_named_in("unknown field `color`, expected one of `title`").as_deref(), Some("color"));
        assert_eq!(field_named_in("invalid type: integer `5`, expected a string"), None);
    }

    #[test]
    fn the_task_list_documents_its_repeatable_label_filter() {
        let (_, doc) = router_and_doc();
        let doc = serde_json::to_value(&doc).unwrap();
        let parameters = doc["paths"]["/api/v1/tasks"]["get"]["parameters"].as_array().unwrap();
        let label = parameters.iter().find(|p| p["name"] == "label").expect("the label filter is documented");
        assert_eq!(label["schema"]["type"], "array", "{label}");
        assert_eq!(label["explode"], true, "label=a&label=b");
        assert_eq!(label["schema"]["items"]["$ref"], "#/components/schemas/LabelName");
        assert_eq!(doc["components"]["schemas"]["LabelName"]["maxLength"], 50);
    }

    #[test]
    fn every_contract_route_is_in_the_openapi_document() {
        let (_, doc) = router_and_doc();
        let doc = serde_json::to_value(&doc).unwrap();
        for (path, method) in [
            ("/api/v1/auth/signup", "post"),
            ("/api/v1/auth/token", "post"),
            ("/api/v1/auth/refresh", "post"),
            ("/api/v1/auth/logout", "post"),
            ("/api/v1/me", "get"),
            ("/api/v1/tasks", "get"),
            ("/api/v1/tasks", "post"),
            ("/api/v1/tasks/{id}", "get"),
            ("/api/v1/tasks/{id}", "patch"),
            ("/api/v1/tasks/{id}", "delete"),
            ("/api/v1/tasks/{id}/move", "post"),
            ("/api/v1/lists", "get"),
            ("/api/v1/lists", "post"),
            ("/api/v1/lists/{id}", "get"),
            ("/api/v1/lists/{id}", "patch"),
            ("/api/v1/lists/{id}", "delete"),
            ("/api/v1/labels", "get"),
            ("/api/v1/labels", "post"),
            ("/api/v1/labels/{id}", "get"),
            ("/api/v1/labels/{id}", "patch"),
            ("/api/v1/labels/{id}", "delete"),
            ("/api/v1/labels/{id}/merge", "post"),
            ("/api/v1/sessions", "get"),
            ("/api/v1/sessions/{id}", "delete"),
        ] {
            assert!(doc["paths"][path][method].is_object(), "{method} {path} is not documented");
        }
    }
}
