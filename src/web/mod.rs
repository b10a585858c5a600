//! The browser pages: server-rendered HTML, progressively enhanced with htmx.

mod account;
pub mod assets;
mod auth;
mod flash;
mod password_reset;
mod tasks;

/// `axum::Form` and `axum::extract::Query`, but an unreadable form or query
/// string is our friendly 400 page rather than axum's plain-text rejection.
mod extract {
    use axum::extract::{FromRequest, FromRequestParts};

    use crate::error::AppError;

    #[derive(FromRequest)]
    #[from_request(via(axum::Form), rejection(AppError))]
    pub struct Form<T>(pub T);

    #[derive(FromRequestParts)]
    #[from_request(via(axum::extract::Query), rejection(AppError))]
    pub struct Query<T>(pub T);
}

use axum::{
    Router,
    middleware::from_fn_with_state,
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};

use tower_http::limit::RequestBodyLimitLayer;

use crate::{
    app::AppState,
    auth::{MaybeSignedIn, csrf, resolve_session},
    error::AppError,
};

/// Every page route, behind session resolution and CSRF protection. Routes
/// are added here, inside the layers, so none can be missed.
pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(root))
        .route("/signup", get(auth::signup_page).post(auth::signup))
        .route("/signup/sent", get(auth::signup_sent_page))
        .route("/signup/confirm", get(auth::confirm_page).post(auth::confirm))
        .route("/signin", get(auth::signin_page).post(auth::signin))
        .route("/signout", post(auth::signout))
        .route("/forgot-password", get(password_reset::forgot_page).post(password_reset::forgot))
        .route("/reset-password", get(password_reset::reset_page).post(password_reset::reset))
        .route("/account", get(account::show))
        .route("/account/profile", post(account::update_profile))
        .route("/account/password", post(account::change_password))
        .route("/account/sessions/{id}/revoke", post(account::revoke_session))
        .route("/account/signout-everywhere", post(account::sign_out_everywhere))
        .route("/account/export", get(account::export))
        .route("/account/delete", post(account::delete_account))
        .route("/tasks", get(tasks::index).post(tasks::create))
        .route("/tasks/{id}", post(tasks::update))
        .route("/tasks/{id}/edit", get(tasks::edit_page))
        .route("/tasks/{id}/toggle", post(tasks::toggle))
        .route("/tasks/{id}/delete", post(tasks::delete))
        .route("/tasks/toggle-all", post(tasks::toggle_all))
        .route("/tasks/clear-completed", post(tasks::clear_completed))
        .route("/tasks/undo", post(tasks::undo))
        .fallback(not_found)
        // Layers run bottom-up: the session is known before CSRF is checked.
        .layer(from_fn_with_state(state.clone(), csrf::protect))
        .layer(from_fn_with_state(state.clone(), resolve_session))
        .layer(RequestBodyLimitLayer::new(csrf::MAX_FORM_BYTES))
}

async fn root(MaybeSignedIn(user): MaybeSignedIn) -> Redirect {
    Redirect::to(if user.is_some() { "/tasks" } else { "/signin" })
}

async fn not_found() -> Response {
    AppError::NotFound.into_response()
}
