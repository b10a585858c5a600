//! One error type for every handler. It becomes a friendly HTML page with the
//! right status; the cause goes to the log (inside the request's span, so with
//! its request id) and never to the user.

use askama::Template;
use axum::{
    http::StatusCode,
    response::{Html, IntoResponse, Response},
};

use crate::{auth::password::HashError, db::DbError};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A request whose form or query string cannot be read at all.
    #[error("bad request")]
    BadRequest,
    #[error("not found")]
    NotFound,
    /// The request's session turned out revoked or expired, or its account
    /// deactivated, when a statement checked it (`db::DbError::SessionEnded`):
    /// nothing was done. Pages send the browser to sign in again
    /// (`web::extract::sign_in_when_the_session_ends`); the API answers 401.
    #[error("the session has ended")]
    SessionEnded,
    /// A state-changing request without a valid CSRF token or from a foreign origin.
    #[error("forbidden")]
    Forbidden,
    #[error("payload too large")]
    PayloadTooLarge,
    /// The account holds as much of something as one account may: the value
    /// says what, for the person ("You have 100,000 tasks, …").
    #[error("quota exceeded")]
    QuotaExceeded(String),
    /// Throttled; the value is the seconds to wait (`Retry-After`).
    #[error("too many requests")]
    TooManyRequests(u64),
    #[error("service unavailable: {0}")]
    Unavailable(#[source] DbError),
    /// Too much password work waiting; try again after this many seconds.
    #[error("busy")]
    Busy(u64),
    #[error("internal error: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl AppError {
    pub fn internal(message: &'static str) -> Self {
        AppError::Internal(message.into())
    }

    /// Creating a task when the account holds `MAX_TASKS_PER_USER`.
    pub fn task_quota(quota: i64) -> Self {
        AppError::QuotaExceeded(format!(
            "This account holds {quota} tasks, the most one account may. Delete some to add more."
        ))
    }

    /// Creating a list when the account holds `MAX_LISTS_PER_USER`.
    pub fn list_quota(quota: i64) -> Self {
        AppError::QuotaExceeded(format!(
            "This account holds {quota} lists, the most one account may. Delete some to add more."
        ))
    }

    /// Making a label when the account holds `MAX_LABELS_PER_USER`.
    pub fn label_quota(quota: i64) -> Self {
        AppError::QuotaExceeded(format!(
            "This account holds {quota} labels, the most one account may. Delete some to add more."
        ))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest => StatusCode::BAD_REQUEST,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::SessionEnded => StatusCode::UNAUTHORIZED,
            AppError::Forbidden => StatusCode::FORBIDDEN,
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::QuotaExceeded(_) => StatusCode::CONFLICT,
            AppError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable(_) | AppError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<axum::extract::rejection::FormRejection> for AppError {
    fn from(_: axum::extract::rejection::FormRejection) -> Self {
        AppError::BadRequest
    }
}

impl From<axum::extract::rejection::QueryRejection> for AppError {
    fn from(_: axum::extract::rejection::QueryRejection) -> Self {
        AppError::BadRequest
    }
}

impl From<DbError> for AppError {
    fn from(err: DbError) -> Self {
        match err {
            DbError::Unavailable(_) => AppError::Unavailable(err),
            DbError::SessionEnded => AppError::SessionEnded,
            DbError::Gone(_) => AppError::NotFound,
            DbError::LabelQuota(quota) => AppError::label_quota(quota),
            other => AppError::Internal(Box::new(other)),
        }
    }
}

impl From<HashError> for AppError {
    fn from(err: HashError) -> Self {
        match err {
            HashError::Busy => AppError::Busy(1),
            other => AppError::Internal(Box::new(other)),
        }
    }
}

impl From<jsonwebtoken::errors::Error> for AppError {
    fn from(err: jsonwebtoken::errors::Error) -> Self {
        AppError::Internal(Box::new(err))
    }
}

impl From<askama::Error> for AppError {
    fn from(err: askama::Error) -> Self {
        AppError::Internal(Box::new(err))
    }
}

/// Marks the response of [`AppError::SessionEnded`].
#[derive(Clone, Copy, Debug)]
pub struct SessionEnded;

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    /// Nobody's: an error page shows no navigation and carries no form.
    pub layout: crate::web::Layout,
    pub title: &'a str,
    pub message: &'a str,
    pub status: u16,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let (title, message) = match &self {
            AppError::QuotaExceeded(what) => {
                return render_error(status, "Limit reached", what);
            }
            AppError::BadRequest => {
                ("That did not work", "The request could not be read. Go back, reload the page and try again.")
            }
            AppError::NotFound => {
                ("Not found", "There is nothing here. It may have been deleted, or the link is wrong.")
            }
            AppError::SessionEnded => {
                let mut response = render_error(status, "Signed out", "Your session has ended. Sign in again.");
                // For the page layer, which sends the browser to sign in.
                response.extensions_mut().insert(SessionEnded);
                return response;
            }
            AppError::Forbidden => {
                ("This form has expired", "The request could not be verified. Go back, reload the page and try again.")
            }
            AppError::TooManyRequests(_) => {
                ("Too many attempts", "Wait a little and try again. Nothing you did was lost.")
            }
            AppError::PayloadTooLarge => ("Too much at once", "What you sent is larger than doable accepts."),
            AppError::Unavailable(_) => (
                "doable is briefly unavailable",
                "The database is not answering. Nothing was lost; try again in a moment.",
            ),
            AppError::Busy(_) => {
                ("doable is busy", "Too many sign-ins at once. Nothing was lost; try again in a moment.")
            }
            AppError::Internal(_) => ("Something went wrong", "An unexpected error happened on our side. Try again."),
        };
        let mut response = render_error(status, title, message);
        if let AppError::TooManyRequests(seconds) | AppError::Busy(seconds) = self {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

pub fn render_error(status: StatusCode, title: &'static str, message: &str) -> Response {
    let page = ErrorPage { layout: Default::default(), title, message, status: status.as_u16() };
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "error page failed to render");
            (status, title).into_response()
        }
    }
}
