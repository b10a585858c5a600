//! The labels page (`/labels`): create, rename, recolour, merge and delete
//! labels. Plain forms that redirect back, as on the lists page; a refused
//! one is shown again (422) with its message beside the field. A label's
//! tasks are the task list filtered by it (`/tasks?label=…`).

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
        labels::{self, Label, LabelPatch},
    },
    domain::{parse_colour, parse_id, parse_label_name},
    error::AppError,
};

/// A refused form: which (`None`: the new label's), what was typed, and why.
pub struct Refusal {
    pub label: Option<i64>,
    pub name: String,
    pub message: &'static str,
}

#[derive(Template, WebTemplate)]
#[template(path = "labels/index.html")]
pub struct LabelsPage {
    layout: Layout,
    labels: Vec<Label>,
    refusal: Option<Refusal>,
}

impl LabelsPage {
    /// The message for label `id`'s form (`None`: the new label's).
    pub fn error_for(&self, id: Option<&i64>) -> Option<&'static str> {
        self.refusal.as_ref().filter(|r| r.label.as_ref() == id).map(|r| r.message)
    }

    /// What label `id`'s name field shows: what was typed when it was refused.
    pub fn name_for<'a>(&'a self, id: Option<&i64>, stored: &'a str) -> &'a str {
        self.refusal.as_ref().filter(|r| r.label.as_ref() == id).map_or(stored, |r| r.name.as_str())
    }

    /// What the merge form says when it was refused.
    pub fn merge_error(&self) -> Option<&'static str> {
        self.error_for(MERGE_FORM.as_ref())
    }

    /// The task list filtered by `name`.
    pub fn tasks_url(&self, name: &str) -> String {
        format!("/tasks?{}", serde_urlencoded::to_string([("label", name)]).unwrap_or_default())
    }
}

async fn render(request: ClaimedRequest, refusal: Option<Refusal>) -> Result<Response, AppError> {
    let labels = labels::all(request.db()).await?;
    let request = request.checked().await?;
    let status = if refusal.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok((status, LabelsPage { layout: request.layout, labels, refusal }).into_response())
}

pub async fn index(request: ClaimedRequest) -> Result<Response, AppError> {
    render(request, None).await
}

#[derive(Debug, Deserialize)]
pub struct LabelForm {
    #[serde(default)]
    name: String,
    colour: Option<String>,
}

/// A name the owner already uses, told beside the field.
const NAME_TAKEN: &str = "You have a label of that name already.";

fn checked(label: Option<i64>, form: &LabelForm) -> Result<(String, Option<&'static str>), Refusal> {
    let refuse = |message| Refusal { label, name: form.name.clone(), message };
    Ok((parse_label_name(&form.name).map_err(refuse)?, parse_colour(form.colour.as_deref()).map_err(refuse)?))
}

pub async fn create(request: ClaimedRequest, Form(form): Form<LabelForm>) -> Result<Response, AppError> {
    let (name, colour) = match checked(None, &form) {
        Ok(fields) => fields,
        Err(refusal) => return render(request, Some(refusal)).await,
    };
    let quota = request.state().config.quotas.labels_per_user;
    match labels::create(request.db(), &name, colour, quota).await {
        Ok(Some(_)) => Ok(Redirect::to("/labels").into_response()),
        Ok(None) => Err(AppError::label_quota(quota)),
        Err(DbError::Conflict(_)) => {
            render(request, Some(Refusal { label: None, name: form.name, message: NAME_TAKEN })).await
        }
        Err(err) => Err(err.into()),
    }
}

pub async fn update(
    request: ClaimedRequest,
    Path(id): Path<String>,
    Form(form): Form<LabelForm>,
) -> Result<Response, AppError> {
    let id = path_id(&id)?;
    let (name, colour) = match checked(Some(id), &form) {
        Ok(fields) => fields,
        Err(refusal) => return render(request, Some(refusal)).await,
    };
    let patch = LabelPatch { name: Some(name), colour: Some(colour) };
    match labels::update(request.db(), id, &patch).await {
        Ok(Some(_)) => Ok(Redirect::to("/labels").into_response()),
        Ok(None) => Err(AppError::NotFound),
        Err(DbError::Conflict(_)) => {
            render(request, Some(Refusal { label: Some(id), name: form.name, message: NAME_TAKEN })).await
        }
        Err(err) => Err(err.into()),
    }
}

#[derive(Debug, Deserialize)]
pub struct MergeForm {
    from: Option<String>,
    into: Option<String>,
}

/// Merges the label `from` into the label `into` (the page's one merge
/// form, two choices among the labels: its size grows with the labels, not
/// with their square): the tasks of `from` carry `into`, and `from` is gone.
pub async fn merge(request: ClaimedRequest, Form(form): Form<MergeForm>) -> Result<Response, AppError> {
    let from = form.from.as_deref().and_then(parse_id).ok_or(AppError::NotFound)?;
    match form.into.as_deref().and_then(parse_id) {
        Some(into) if into != from => {
            labels::merge(request.db(), from, into).await?.ok_or(AppError::NotFound)?;
            Ok(Redirect::to("/labels").into_response())
        }
        _ => {
            labels::get(request.db(), from).await?.ok_or(AppError::NotFound)?;
            let message = "Pick two different labels to merge.";
            render(request, Some(Refusal { label: MERGE_FORM, name: String::new(), message })).await
        }
    }
}

/// The merge form's place in [`Refusal::label`].
const MERGE_FORM: Option<i64> = Some(0);

pub async fn delete(request: ClaimedRequest, Path(id): Path<String>) -> Result<Response, AppError> {
    let id = path_id(&id)?;
    if labels::delete(request.db(), id).await? {
        Ok(Redirect::to("/labels").into_response())
    } else {
        Err(AppError::NotFound)
    }
}
