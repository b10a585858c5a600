//! Lists, scoped to the bearer's account like every query in `db::lists`.

use axum::{
    Json,
    extract::{Path, RawQuery, State},
    http::{StatusCode, header},
    response::IntoResponse,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ApiClaim, ApiError, ApiJson, ApiResult, ErrorBody, double_option, name_taken, path_id, rfc3339};
use crate::{
    app::AppState,
    db::lists::{self, List, ListPatch, Outcome, TheirTasks},
    domain::{collect_errors, parse_colour, parse_list_name},
    error::AppError,
};

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ListJson {
    pub id: i64,
    pub name: String,
    /// One of red, orange, yellow, green, teal, blue, purple, pink, grey.
    pub colour: Option<String>,
    pub archived: bool,
    /// The list new tasks go to by default; it cannot be archived or deleted.
    pub is_inbox: bool,
    /// Its tasks not done yet.
    pub open_count: i64,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl From<List> for ListJson {
    fn from(list: List) -> Self {
        ListJson {
            id: list.id,
            name: list.name,
            colour: list.colour,
            archived: list.archived,
            is_inbox: list.is_inbox,
            open_count: list.open_count,
            created_at: rfc3339(list.created_at),
            updated_at: rfc3339(list.updated_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ListItems {
    /// Your Inbox first, then your active lists by name, then the archived ones.
    pub items: Vec<ListJson>,
}

/// Your lists, each with its count of open tasks.
#[utoipa::path(get, path = "/api/v1/lists", tag = "lists", security(("bearer" = [])),
    responses((status = 200, body = ListItems), (status = 401, body = ErrorBody)))]
pub async fn list(State(state): State<AppState>, ApiClaim(claim): ApiClaim) -> ApiResult<Json<ListItems>> {
    let lists = lists::all(claim.rows(&state.db)).await?;
    Ok(Json(ListItems { items: lists.into_iter().map(ListJson::from).collect() }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewList {
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]*[^\\s\\x00-\\x1f\\x7f-\\x9f][^\\x00-\\x1f\\x7f-\\x9f]*$"
    )]
    name: String,
    #[serde(default)]
    #[schema(pattern = "^(red|orange|yellow|green|teal|blue|purple|pink|grey)$")]
    colour: Option<String>,
}

/// Create a list.
#[utoipa::path(post, path = "/api/v1/lists", tag = "lists", request_body = NewList, security(("bearer" = [])),
    responses(
        (status = 201, body = ListJson, headers(("Location" = String, description = "The new list's URL"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 409, description = "The name is taken, or the account holds MAX_LISTS_PER_USER lists",
         body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    ApiClaim(claim): ApiClaim,
    ApiJson(body): ApiJson<NewList>,
) -> ApiResult<impl IntoResponse> {
    let name = parse_list_name(&body.name);
    let colour = parse_colour(body.colour.as_deref());
    let (name, colour) = match (name, colour) {
        (Ok(name), Ok(colour)) => (name, colour),
        (name, colour) => {
            return Err(ApiError::validation(collect_errors([("name", name.err()), ("colour", colour.err())])));
        }
    };
    let quota = state.config.quotas.lists_per_user;
    let list = lists::create(claim.rows(&state.db), &name, colour, quota)
        .await
        .map_err(name_taken("list"))?
        .ok_or(AppError::list_quota(quota))?;
    let location = format!("/api/v1/lists/{}", list.id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(ListJson::from(list))))
}

/// One list.
#[utoipa::path(get, path = "/api/v1/lists/{id}", tag = "lists", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = ListJson), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    ApiClaim(claim): ApiClaim,
    Path(id): Path<String>,
) -> ApiResult<Json<ListJson>> {
    let list = lists::get(claim.rows(&state.db), path_id(&id)?).await?.ok_or_else(ApiError::not_found)?;
    Ok(Json(list.into()))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListChanges {
    #[serde(default, deserialize_with = "double_option")]
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]*[^\\s\\x00-\\x1f\\x7f-\\x9f][^\\x00-\\x1f\\x7f-\\x9f]*$",
        nullable = false
    )]
    name: Option<Option<String>>,
    /// `null` removes the colour.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(pattern = "^(red|orange|yellow|green|teal|blue|purple|pink|grey)$")]
    colour: Option<Option<String>>,
    /// The Inbox cannot be archived (409).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(nullable = false)]
    archived: Option<Option<bool>>,
}

fn the_inbox_stays() -> ApiError {
    ApiError::new(StatusCode::CONFLICT, "inbox", "The Inbox cannot be archived or deleted.")
}

/// Rename, recolour, archive or unarchive a list.
#[utoipa::path(patch, path = "/api/v1/lists/{id}", tag = "lists", params(("id" = i64, Path)), request_body = ListChanges,
    security(("bearer" = [])),
    responses(
        (status = 200, body = ListJson),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "The name is taken, or the Inbox would be archived", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
    ))]
pub async fn update(
    State(state): State<AppState>,
    ApiClaim(claim): ApiClaim,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ListChanges>,
) -> ApiResult<Json<ListJson>> {
    let id = path_id(&id)?;
    let name = match body.name.as_ref() {
        None => Ok(None),
        Some(None) => Err("The name cannot be null."),
        Some(Some(raw)) => parse_list_name(raw).map(Some),
    };
    let colour = body.colour.as_ref().map(|c| parse_colour(c.as_deref())).transpose();
    let archived = match body.archived {
        Some(None) => Err("Use true or false."),
        other => Ok(other.flatten()),
    };
    let patch = match (name, colour, archived) {
        (Ok(name), Ok(colour), Ok(archived)) => ListPatch { name, colour, archived },
        (name, colour, archived) => {
            let errors = collect_errors([("name", name.err()), ("colour", colour.err()), ("archived", archived.err())]);
            return Err(ApiError::validation(errors));
        }
    };
    match lists::update(claim.rows(&state.db), id, &patch).await.map_err(name_taken("list"))? {
        Outcome::Done(list) => Ok(Json(list.into())),
        Outcome::NotFound => Err(ApiError::not_found()),
        Outcome::IsInbox => Err(the_inbox_stays()),
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteParams {
    /// `move` (default): its tasks go to your Inbox; `delete`: they are deleted with it.
    #[param(pattern = "^(move|delete)$")]
    tasks: Option<String>,
}

/// Delete a list, moving its tasks to the Inbox or deleting them with it.
#[utoipa::path(delete, path = "/api/v1/lists/{id}", tag = "lists", params(("id" = i64, Path), DeleteParams),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "The Inbox cannot be deleted", body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    ApiClaim(claim): ApiClaim,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<StatusCode> {
    let id = path_id(&id)?;
    let params: DeleteParams = serde_urlencoded::from_str(query.as_deref().unwrap_or_default())
        .map_err(|_| ApiError::validation([("query", "Give each parameter once.")]))?;
    let their_tasks = match params.tasks.as_deref() {
        None | Some("move") => TheirTasks::MoveToInbox,
        Some("delete") => TheirTasks::Delete,
        Some(_) => return Err(ApiError::validation([("tasks", "Use move or delete.")])),
    };
    match lists::delete(claim.rows(&state.db), id, their_tasks).await? {
        Outcome::Done(()) => Ok(StatusCode::NO_CONTENT),
        Outcome::NotFound => Err(ApiError::not_found()),
        Outcome::IsInbox => Err(the_inbox_stays()),
    }
}
