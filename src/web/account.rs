//! The account page: profile, password, signed-in sessions, recent activity,
//! export and deletion.

use crate::domain::AuditEvent;
use crate::in_progress::PerKey;
use askama::Template;
use askama_web::WebTemplate;
use axum::{
    extract::{Path, State},
    http::{StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use serde::{Deserialize, Serialize};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};
use tower_cookies::Cookies;
use uuid::Uuid;

use super::extract::{Form, Query};
use crate::{
    app::AppState,
    auth::{
        ClientInfo, CurrentUser, SignIn, SignedIn, clear_session_cookies, confirm_password, csrf::CsrfToken,
        record_event,
    },
    db::{audit, sessions, tasks, users},
    domain::{GUESSABLE_PASSWORD, Password, parse_name},
    error::AppError,
};

pub struct SessionView {
    pub id: Uuid,
    pub device: String,
    pub ip: String,
    pub created: String,
    pub last_seen: String,
    pub current: bool,
}

pub struct EventView {
    pub what: &'static str,
    pub when: String,
    pub device: String,
    pub ip: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "account.html")]
pub struct AccountPage {
    csrf: String,
    email: String,
    name: String,
    notice: Option<&'static str>,
    name_error: Option<&'static str>,
    password_error: Option<&'static str>,
    delete_error: Option<&'static str>,
    sessions: Vec<SessionView>,
    events: Vec<EventView>,
}

fn when(at: OffsetDateTime) -> String {
    format!("{} {:02}:{:02} UTC", at.date(), at.hour(), at.minute())
}

/// "Firefox on Linux" from a User-Agent, or the raw start of it.
pub fn device(user_agent: Option<&str>) -> String {
    let Some(ua) = user_agent.filter(|ua| !ua.is_empty()) else {
        return "Unknown device".into();
    };
    let browser =
        [("Edg/", "Edge"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"), ("Safari/", "Safari"), ("curl/", "curl")]
            .into_iter()
            .find(|(marker, _)| ua.contains(marker))
            .map(|(_, name)| name);
    let os = [
        ("Android", "Android"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
    ]
    .into_iter()
    .find(|(marker, _)| ua.contains(marker))
    .map(|(_, name)| name);
    match (browser, os) {
        (Some(b), Some(o)) => format!("{b} on {o}"),
        (Some(b), None) => b.to_owned(),
        _ => ua.chars().take(60).collect(),
    }
}

fn describe(event: &str) -> &'static str {
    AuditEvent::from_name(event).map_or("Security event", AuditEvent::describe)
}

#[derive(Deserialize, Default)]
pub struct Notice {
    done: Option<String>,
}

impl Notice {
    fn message(&self) -> Option<&'static str> {
        match self.done.as_deref()? {
            "profile" => Some("Your name was saved."),
            "password" => Some("Your password was changed. Your other sessions were signed out."),
            "revoked" => Some("That session was signed out."),
            _ => None,
        }
    }
}

async fn page(state: &AppState, user: &CurrentUser, csrf: String) -> Result<AccountPage, AppError> {
    let (live, events) = tokio::try_join!(sessions::list(&state.db, user.id), audit::recent(&state.db, user.id, 20))?;
    Ok(AccountPage {
        csrf,
        email: user.email.clone(),
        name: user.name.clone().unwrap_or_default(),
        notice: None,
        name_error: None,
        password_error: None,
        delete_error: None,
        sessions: live
            .into_iter()
            .map(|s| SessionView {
                current: s.id == user.session_id,
                id: s.id,
                device: device(s.user_agent.as_deref()),
                ip: s.ip.unwrap_or_else(|| "unknown".into()),
                created: when(s.created_at),
                last_seen: when(s.last_seen_at),
            })
            .collect(),
        events: events
            .into_iter()
            .map(|e| EventView {
                what: describe(&e.event),
                when: when(e.created_at),
                device: device(e.user_agent.as_deref()),
                ip: e.ip.unwrap_or_else(|| "unknown".into()),
            })
            .collect(),
    })
}

pub async fn show(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    CsrfToken(csrf): CsrfToken,
    Query(notice): Query<Notice>,
) -> Result<AccountPage, AppError> {
    let mut page = page(&state, &user, csrf).await?;
    page.notice = notice.message();
    Ok(page)
}

#[derive(Deserialize)]
pub struct ProfileForm {
    name: Option<String>,
}

pub async fn update_profile(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    CsrfToken(csrf): CsrfToken,
    client: ClientInfo,
    Form(form): Form<ProfileForm>,
) -> Result<Response, AppError> {
    match parse_name(form.name.as_deref()) {
        Ok(name) => {
            users::set_name(&state.db, user.id, name.as_deref()).await?;
            record_event(&state, user.id, AuditEvent::ProfileUpdated, &client).await?;
            Ok(Redirect::to("/account?done=profile").into_response())
        }
        Err(message) => {
            let mut page = page(&state, &user, csrf).await?;
            page.name = form.name.unwrap_or_default();
            page.name_error = Some(message);
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

#[derive(Deserialize)]
pub struct PasswordForm {
    current_password: Option<String>,
    new_password: Option<String>,
}

/// Checks the current password against the account: a sign-in attempt,
/// counted and throttled as one (past the limit: 429).
async fn password_matches(
    state: &AppState,
    user: &CurrentUser,
    password: &str,
    client: &ClientInfo,
) -> Result<bool, AppError> {
    match confirm_password(state, user, password, client).await? {
        SignIn::Success(_) => Ok(true),
        SignIn::Failed => Ok(false),
        SignIn::Throttled(wait) => Err(AppError::TooManyRequests(wait)),
    }
}

pub async fn change_password(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    CsrfToken(csrf): CsrfToken,
    client: ClientInfo,
    Form(form): Form<PasswordForm>,
) -> Result<Response, AppError> {
    let error = match Password::parse(form.new_password.as_deref().unwrap_or_default()) {
        Err(message) => Some(message),
        Ok(_)
            if !password_matches(&state, &user, form.current_password.as_deref().unwrap_or_default(), &client)
                .await? =>
        {
            Some("Your current password is not right.")
        }
        Ok(new) => {
            if set_password(&state, user.id, &personal_words(&user), &new, NewPassword::Keeping(user.session_id))
                .await?
            {
                record_event(&state, user.id, AuditEvent::PasswordChanged, &client).await?;
                return Ok(Redirect::to("/account?done=password").into_response());
            }
            Some(GUESSABLE_PASSWORD)
        }
    };
    let mut page = page(&state, &user, csrf).await?;
    page.password_error = error;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

/// What a password must not be built from: the user's own email and name.
fn personal_words(user: &CurrentUser) -> Vec<&str> {
    let mut words = vec![user.email.as_str()];
    words.extend(user.name.as_deref());
    words
}

/// How a new password comes: through a reset link (by its token hash,
/// spent with it), or from the signed-in user, who keeps this session.
pub enum NewPassword<'a> {
    ViaReset(&'a str),
    Keeping(Uuid),
}

/// Sets a new password, spends every reset link and revokes every session
/// but the one kept, all in one transaction; false (and nothing changed)
/// when the password is too easy to guess or the reset link no longer works.
pub async fn set_password(
    state: &AppState,
    user_id: Uuid,
    personal: &[&str],
    new: &Password,
    how: NewPassword<'_>,
) -> Result<bool, AppError> {
    if !state.passwords.strong_enough(new, personal).await? {
        return Ok(false);
    }
    // Hashed first: the slow part, and the one that may be refused (503).
    let hash = state.passwords.hash(new).await?;
    let (via_reset, keep) = match how {
        NewPassword::ViaReset(token_hash) => (Some(token_hash), None),
        NewPassword::Keeping(session) => (None, Some(session)),
    };
    Ok(users::replace_password(&state.db, user_id, &hash, via_reset, keep).await?)
}

pub async fn revoke_session(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    cookies: Cookies,
    client: ClientInfo,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let id = Uuid::parse_str(&id).map_err(|_| AppError::NotFound)?;
    if !sessions::revoke(&state.db, user.id, id).await? {
        return Err(AppError::NotFound);
    }
    record_event(&state, user.id, AuditEvent::SessionRevoked, &client).await?;
    if id == user.session_id {
        clear_session_cookies(&cookies, &state.config);
        return Ok(Redirect::to("/signin").into_response());
    }
    Ok(Redirect::to("/account?done=revoked").into_response())
}

pub async fn sign_out_everywhere(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    cookies: Cookies,
    client: ClientInfo,
) -> Result<Redirect, AppError> {
    sessions::revoke_all(&state.db, user.id, None).await?;
    record_event(&state, user.id, AuditEvent::SessionsRevokedAll, &client).await?;
    clear_session_cookies(&cookies, &state.config);
    Ok(Redirect::to("/signin"))
}

#[derive(Serialize)]
struct ExportProfile {
    id: Uuid,
    email: String,
    name: Option<String>,
    created_at: String,
}

/// Accounts with an export in progress: one each.
static EXPORTING: std::sync::LazyLock<PerKey<Uuid>> = std::sync::LazyLock::new(|| PerKey::new(1));

/// Tasks read per query while exporting.
const EXPORT_PAGE: i64 = 500;

/// `{"profile": {…}, "tasks": [...]}`, streamed: the tasks are read a page at
/// a time by a task of their own and handed to the response through a
/// channel that holds two chunks, so memory stays flat however many tasks
/// there are. If the client goes away the producer finishes the page it is
/// reading and stops (no query is abandoned halfway, see `app.rs`); if the
/// database fails midway the download is cut short rather than completed
/// with a lie.
pub async fn export(State(state): State<AppState>, SignedIn(user): SignedIn) -> Result<Response, AppError> {
    // Exports take pool connections page after page for as long as the
    // client reads: a few at a time per instance, one per account.
    static EXPORTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);
    let (Ok(permit), Some(running)) = (EXPORTS.try_acquire(), EXPORTING.take(user.id)) else {
        return Err(AppError::TooManyRequests(5));
    };
    let profile = users::find(&state.db, user.id).await?.ok_or(AppError::NotFound)?;
    let profile = ExportProfile {
        id: profile.id,
        email: profile.email,
        name: profile.name,
        created_at: profile.created_at.format(&Rfc3339).unwrap_or_default(),
    };
    let head = format!(
        r#"{{"profile":{},"tasks":["#,
        serde_json::to_string(&profile).map_err(|e| AppError::Internal(Box::new(e)))?
    );
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(2);
    crate::app::spawn_in_request(async move {
        if tx.send(Ok(head.into_bytes())).await.is_err() {
            return;
        }
        let (mut after, mut first) = (0, true);
        loop {
            let page = match tasks::page_after(&state.db, user.id, after, EXPORT_PAGE).await {
                Ok(page) => page,
                Err(err) => {
                    tracing::error!(error = %err, "export cut short");
                    let _ = tx.send(Err(std::io::Error::other(err))).await;
                    return;
                }
            };
            let mut chunk = Vec::with_capacity(page.len() * 256);
            for task in &page {
                if !first {
                    chunk.push(b',');
                }
                first = false;
                // A task always serialises: plain strings, numbers and dates.
                serde_json::to_writer(&mut chunk, &crate::api::TaskJson::from(task.clone()))
                    .expect("a task serialises");
            }
            let last_page = (page.len() as i64) < EXPORT_PAGE;
            after = page.last().map_or(after, |task| task.id);
            if last_page {
                chunk.extend_from_slice(b"]}\n");
            }
            if tx.send(Ok(chunk)).await.is_err() || last_page {
                return;
            }
        }
    });
    // The export counts as running for as long as the response body lives:
    // until the client has been sent everything, or has gone.
    let slot = (permit, running);
    let body = futures_util::stream::unfold((rx, slot), |(mut rx, slot)| async move {
        rx.recv().await.map(|chunk| (chunk, (rx, slot)))
    });
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"doable-export.json\""),
        ],
        axum::body::Body::from_stream(body),
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct DeleteForm {
    password: Option<String>,
}

pub async fn delete_account(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    CsrfToken(csrf): CsrfToken,
    cookies: Cookies,
    client: ClientInfo,
    Form(form): Form<DeleteForm>,
) -> Result<Response, AppError> {
    if !password_matches(&state, &user, form.password.as_deref().unwrap_or_default(), &client).await? {
        let mut page = page(&state, &user, csrf).await?;
        page.delete_error = Some("That password is not right. Your account was not deleted.");
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }
    users::delete(&state.db, user.id).await?;
    tracing::info!(event = "account.deleted", user_id = %user.id, "account deleted with its tasks and sessions");
    clear_session_cookies(&cookies, &state.config);
    Ok(Redirect::to("/signin?notice=deleted").into_response())
}

#[cfg(test)]
mod tests {
    use super::device;

    #[test]
    fn devices_read_like_people_say_them() {
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
        assert_eq!(device(Some(firefox)), "Firefox on Linux");
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Mobile/15E148 Safari/604.1";
        assert_eq!(device(Some(iphone)), "Safari on iPhone");
        assert_eq!(device(None), "Unknown device");
    }
}
