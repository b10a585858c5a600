//! The lists page (`/lists`): create, rename, recolour, archive and delete
//! lists. Plain forms that redirect back; a refused one is shown again
//! (422) with its message beside the field. Each list's tasks are shown by
//! the task list itself, at `/lists/{id}` (`tasks::list_page`).

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    extract::Path,
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::extract::{ClaimedRequest, Form, Layout, path_id};
use crate::{
    db::{
        DbError,
        lists::{self, List, ListPatch, Outcome, TheirTasks},
    },
    domain::{parse_colour, parse_list_name},
    error::AppError,
};

/// A refused form: which (`None`: the new list's), what was typed, and why.
pub struct Refusal {
    pub list: Option<i64>,
    pub name: String,
    pub message: &'static str,
}

#[derive(Template, WebTemplate)]
#[template(path = "lists/index.html")]
pub struct ListsPage {
    layout: Layout,
    lists: Vec<List>,
    refusal: Option<Refusal>,
}

impl ListsPage {
    /// The message for list `id`'s form (`None`: the new list's).
    pub fn error_for(&self, id: Option<&i64>) -> Option<&'static str> {
        self.refusal.as_ref().filter(|r| r.list.as_ref() == id).map(|r| r.message)
    }

    /// What list `id`'s name field shows: what was typed when it was refused.
    pub fn name_for<'a>(&'a self, id: Option<&i64>, stored: &'a str) -> &'a str {
        self.refusal.as_ref().filter(|r| r.list.as_ref() == id).map_or(stored, |r| r.name.as_str())
    }
}

async fn render(request: ClaimedRequest, refusal: Option<Refusal>) -> Result<Response, AppError> {
    let lists = lists::all(request.db()).await?;
    let request = request.checked().await?;
    let status = if refusal.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok((status, ListsPage { layout: request.layout, lists, refusal }).into_response())
}

pub async fn index(request: ClaimedRequest) -> Result<Response, AppError> {
    render(request, None).await
}

#[derive(Debug, Deserialize)]
pub struct ListForm {
    #[serde(default)]
    name: String,
    colour: Option<String>,
    /// A checkbox: present when ticked.
    archived: Option<String>,
}

/// A name the owner already uses, told beside the field.
const NAME_TAKEN: &str = "You have a list of that name already.";

fn checked_name(list: Option<i64>, raw: &str) -> Result<String, Refusal> {
    parse_list_name(raw).map_err(|message| Refusal { list, name: raw.to_owned(), message })
}

fn checked_colour(list: Option<i64>, form: &ListForm) -> Result<Option<&'static str>, Refusal> {
    parse_colour(form.colour.as_deref()).map_err(|message| Refusal { list, name: form.name.clone(), message })
}

pub async fn create(request: ClaimedRequest, Form(form): Form<ListForm>) -> Result<Response, AppError> {
    let checked = checked_name(None, &form.name).and_then(|name| Ok((name, checked_colour(None, &form)?)));
    let (name, colour) = match checked {
        Ok(fields) => fields,
        Err(refusal) => return render(request, Some(refusal)).await,
    };
    let quota = request.state().config.quotas.lists_per_user;
    match lists::create(request.db(), &name, colour, quota).await {
        Ok(Some(list)) => Ok(Redirect::to(&format!("/lists/{}", list.id)).into_response()),
        Ok(None) => Err(AppError::list_quota(quota)),
        Err(DbError::Conflict(_)) => {
            render(request, Some(Refusal { list: None, name: form.name, message: NAME_TAKEN })).await
        }
        Err(err) => Err(err.into()),
    }
}

pub async fn update(
    request: ClaimedRequest,
    Path(id): Path<String>,
    Form(form): Form<ListForm>,
) -> Result<Response, AppError> {
    let id = path_id(&id)?;
    let checked = checked_name(Some(id), &form.name).and_then(|name| Ok((name, checked_colour(Some(id), &form)?)));
    let (name, colour) = match checked {
        Ok(fields) => fields,
        Err(refusal) => return render(request, Some(refusal)).await,
    };
    let archived = matches!(form.archived.as_deref(), Some("on" | "true" | "1"));
    let patch = ListPatch { name: Some(name), colour: Some(colour), archived: Some(archived) };
    match lists::update(request.db(), id, &patch).await {
        Ok(Outcome::Done(_)) => Ok(Redirect::to("/lists").into_response()),
        Ok(Outcome::NotFound) => Err(AppError::NotFound),
        Ok(Outcome::IsInbox) => {
            let message = "The Inbox cannot be archived.";
            render(request, Some(Refusal { list: Some(id), name: form.name, message })).await
        }
        Err(DbError::Conflict(_)) => {
            render(request, Some(Refusal { list: Some(id), name: form.name, message: NAME_TAKEN })).await
        }
        Err(err) => Err(err.into()),
    }
}

#[derive(Debug, Deserialize)]
pub struct DeleteForm {
    /// `move` (the default) or `delete`.
    tasks: Option<String>,
}

pub async fn delete(
    request: ClaimedRequest,
    Path(id): Path<String>,
    Form(form): Form<DeleteForm>,
) -> Result<Response, AppError> {
    let id = path_id(&id)?;
    let their_tasks = match form.tasks.as_deref() {
        Some("delete") => TheirTasks::Delete,
        _ => TheirTasks::MoveToInbox,
    };
    match lists::delete(request.db(), id, their_tasks).await? {
        Outcome::Done(()) => Ok(Redirect::to("/lists").into_response()),
        Outcome::NotFound => Err(AppError::NotFound),
        // The page offers no such button; a hand-made form gets a plain refusal.
        Outcome::IsInbox => Err(AppError::Forbidden),
    }
}
