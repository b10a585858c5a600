//! The browser pages: server-rendered HTML, progressively enhanced with htmx.

mod account;
pub mod assets;
mod auth;
mod extract;
mod flash;
mod labels;
mod lists;
mod password_reset;
mod tasks;

pub use extract::Layout;

use axum::{
    Router,
    middleware::from_fn_with_state,
    response::{IntoResponse, Redirect, Response},
    routing::{MethodRouter, get, post},
};

use tower_http::limit::RequestBodyLimitLayer;

use crate::{
    app::AppState,
    auth::{csrf, resolve_session},
    error::AppError,
};

/// Every page route, behind session resolution and CSRF protection. Routes
/// are added here, through `page`, so none can be missed. The two run as
/// route layers: a method a route does not have is answered 405 with
/// `Allow` before any session or CSRF check.
pub fn router(state: &AppState) -> Router<AppState> {
    let page = |route: MethodRouter<AppState>| {
        // Layers run bottom-up: the session is known before CSRF is checked,
        // and a handler that finds it ended sends the browser to sign in.
        route
            .route_layer(from_fn_with_state(state.clone(), extract::sign_in_when_the_session_ends))
            .route_layer(from_fn_with_state(state.clone(), csrf::protect))
            .route_layer(from_fn_with_state(state.clone(), resolve_session))
    };
    Router::new()
        .route("/", page(get(root)))
        .route("/signup", page(get(auth::signup_page).post(auth::signup)))
        .route("/signup/sent", page(get(auth::signup_sent_page)))
        .route("/signup/confirm", page(get(auth::confirm_page).post(auth::confirm)))
        .route("/signin", page(get(auth::signin_page).post(auth::signin)))
        .route("/signout", page(post(auth::signout)))
        .route("/forgot-password", page(get(password_reset::forgot_page).post(password_reset::forgot)))
        .route("/reset-password", page(get(password_reset::reset_page).post(password_reset::reset)))
        .route("/account", page(get(account::show)))
        .route("/account/profile", page(post(account::update_profile)))
        .route("/account/password", page(post(account::change_password)))
        .route("/account/sessions/{id}/revoke", page(post(account::revoke_session)))
        .route("/account/signout-everywhere", page(post(account::sign_out_everywhere)))
        .route("/account/export", page(get(account::export)))
        .route("/account/delete", page(post(account::delete_account)))
        .route("/tasks", page(get(tasks::index).post(tasks::create)))
        .route("/tasks/{id}", page(post(tasks::update)))
        .route("/tasks/{id}/edit", page(get(tasks::edit_page)))
        .route("/tasks/{id}/toggle", page(post(tasks::toggle)))
        .route("/tasks/{id}/complete", page(get(tasks::complete_page).post(tasks::complete)))
        .route("/tasks/{id}/delete", page(post(tasks::delete)))
        .route("/tasks/{id}/move", page(post(tasks::move_task)))
        .route("/tasks/toggle-all", page(post(tasks::toggle_all)))
        .route("/tasks/clear-completed", page(post(tasks::clear_completed)))
        .route("/tasks/undo", page(post(tasks::undo)))
        .route("/today", page(get(tasks::today_page)))
        .route("/upcoming", page(get(tasks::upcoming_page)))
        .route("/lists", page(get(lists::index).post(lists::create)))
        .route("/lists/{id}", page(get(tasks::list_page).post(lists::update)))
        .route("/lists/{id}/delete", page(post(lists::delete)))
        .route("/labels", page(get(labels::index).post(labels::create)))
        .route("/labels/{id}", page(post(labels::update)))
        .route("/labels/merge", page(post(labels::merge)))
        .route("/labels/{id}/delete", page(post(labels::delete)))
        .fallback(not_found)
        .layer(RequestBodyLimitLayer::new(csrf::MAX_FORM_BYTES))
}

async fn root(page: extract::PageRequest) -> Redirect {
    Redirect::to(if page.layout.user.is_some() { "/tasks" } else { "/signin" })
}

async fn not_found() -> Response {
    AppError::NotFound.into_response()
}
