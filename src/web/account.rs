//! The account page: profile, password, signed-in sessions, recent activity,
//! export and deletion.

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    extract::Path,
    http::{StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use serde::{Deserialize, Serialize};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};
use uuid::Uuid;

use super::{
    extract::{Form, Layout, Query, UserRequest},
    flash::Notice,
};
use crate::{
    account::{self, Refused},
    app::AppState,
    auth::{CurrentUser, clear_session_cookies},
    db::{audit, labels, lists, sessions, tasks, users},
    domain::AuditEvent,
    error::AppError,
    in_progress::PerKey,
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
    layout: Layout,
    name: String,
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
pub struct DoneQuery {
    done: Option<String>,
}

impl DoneQuery {
    fn message(&self) -> Option<&'static str> {
        match self.done.as_deref()? {
            "profile" => Some("Your name was saved."),
            "password" => Some("Your password was changed. Your other sessions were signed out."),
            "revoked" => Some("That session was signed out."),
            _ => None,
        }
    }
}

async fn page(state: &AppState, user: &CurrentUser, layout: Layout) -> Result<AccountPage, AppError> {
    let db = state.db.for_user(user.id);
    let (live, events) = tokio::try_join!(sessions::list(db), audit::recent(db, 20))?;
    Ok(AccountPage {
        layout,
        name: user.name.clone().unwrap_or_default(),
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

pub async fn show(request: UserRequest, Query(done): Query<DoneQuery>) -> Result<AccountPage, AppError> {
    let mut layout = request.layout;
    if let Some(message) = done.message() {
        layout.flash = Some(Notice::say(message));
    }
    page(&request.state, &request.user, layout).await
}

/// The account page again, with `error` set beside its field: 422.
async fn refused(request: UserRequest, error: impl FnOnce(&mut AccountPage)) -> Result<Response, AppError> {
    let mut page = page(&request.state, &request.user, request.layout).await?;
    error(&mut page);
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

#[derive(Deserialize)]
pub struct ProfileForm {
    name: Option<String>,
}

pub async fn update_profile(request: UserRequest, Form(form): Form<ProfileForm>) -> Result<Response, AppError> {
    match account::rename(&request.state, &request.user, form.name.as_deref(), &request.client).await? {
        Ok(()) => Ok(Redirect::to("/account?done=profile").into_response()),
        Err(Refused(message)) => {
            refused(request, |page| {
                page.name = form.name.unwrap_or_default();
                page.name_error = Some(message);
            })
            .await
        }
    }
}

#[derive(Deserialize)]
pub struct PasswordForm {
    current_password: Option<String>,
    new_password: Option<String>,
}

pub async fn change_password(request: UserRequest, Form(form): Form<PasswordForm>) -> Result<Response, AppError> {
    let (current, new) =
        (form.current_password.as_deref().unwrap_or_default(), form.new_password.as_deref().unwrap_or_default());
    match account::change_password(&request.state, &request.user, current, new, &request.client).await? {
        Ok(()) => Ok(Redirect::to("/account?done=password").into_response()),
        Err(Refused(message)) => refused(request, |page| page.password_error = Some(message)).await,
    }
}

pub async fn revoke_session(request: UserRequest, Path(id): Path<String>) -> Result<Response, AppError> {
    let UserRequest { user, state, cookies, client, .. } = request;
    let id = Uuid::parse_str(&id).map_err(|_| AppError::NotFound)?;
    if !account::revoke_session(&state, &user, id, &client).await? {
        return Err(AppError::NotFound);
    }
    if id == user.session_id {
        clear_session_cookies(&cookies, &state.config);
        return Ok(Redirect::to("/signin").into_response());
    }
    Ok(Redirect::to("/account?done=revoked").into_response())
}

pub async fn sign_out_everywhere(request: UserRequest) -> Result<Redirect, AppError> {
    let UserRequest { user, state, cookies, client, .. } = request;
    account::sign_out_everywhere(&state, &user, &client).await?;
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
pub async fn export(request: UserRequest) -> Result<Response, AppError> {
    let UserRequest { user, state, .. } = request;
    // Exports take pool connections page after page for as long as the
    // client reads: a few at a time per instance, one per account.
    static EXPORTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);
    let (Ok(permit), Some(running)) = (EXPORTS.try_acquire(), EXPORTING.take(user.id)) else {
        return Err(AppError::TooManyRequests(5));
    };
    let profile = users::find(state.db.for_user(user.id)).await?.ok_or(AppError::NotFound)?;
    let profile = ExportProfile {
        id: profile.id,
        email: profile.email,
        name: profile.name,
        created_at: profile.created_at.format(&Rfc3339).unwrap_or_default(),
    };
    // Lists and labels are few (MAX_LISTS_PER_USER, MAX_LABELS_PER_USER):
    // read at once, before the tasks (which name their labels).
    let lists: Vec<crate::api::ListJson> =
        lists::all(state.db.for_user(user.id)).await?.into_iter().map(Into::into).collect();
    let labels: Vec<crate::api::LabelJson> =
        labels::all(state.db.for_user(user.id)).await?.into_iter().map(Into::into).collect();
    let json = |written: serde_json::Result<String>| written.map_err(|e| AppError::Internal(Box::new(e)));
    let (profile, lists) = (json(serde_json::to_string(&profile))?, json(serde_json::to_string(&lists))?);
    let labels = json(serde_json::to_string(&labels))?;
    let head = format!(r#"{{"profile":{profile},"lists":{lists},"labels":{labels},"tasks":["#);
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(2);
    crate::app::spawn_in_request(async move {
        if tx.send(Ok(head.into_bytes())).await.is_err() {
            return;
        }
        let (mut after, mut first) = (0, true);
        loop {
            let page = match tasks::page_after(state.db.for_user(user.id), after, EXPORT_PAGE).await {
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

pub async fn delete_account(request: UserRequest, Form(form): Form<DeleteForm>) -> Result<Response, AppError> {
    let password = form.password.as_deref().unwrap_or_default();
    match account::delete(&request.state, &request.user, password, &request.client).await? {
        Ok(()) => {
            clear_session_cookies(&request.cookies, &request.state.config);
            Ok(Redirect::to("/signin?notice=deleted").into_response())
        }
        Err(Refused(message)) => refused(request, |page| page.delete_error = Some(message)).await,
    }
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
