//! Labels, scoped to the bearer's account like every query in `db::labels`.

use axum::{
    Json,
    extract::{Path, State},
    http::{StatusCode, header},
    response::IntoResponse,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    ApiClaim, ApiError, ApiJson, ApiResult, ErrorBody, double_option, name_taken, path_id, rfc3339, whole_number,
};
use crate::{
    app::AppState,
    db::labels::{self, Label, LabelPatch},
    domain::{collect_errors, parse_colour, parse_label_name},
    error::AppError,
};

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LabelJson {
    pub id: i64,
    pub name: String,
    /// One of red, orange, yellow, green, teal, blue, purple, pink, grey.
    pub colour: Option<String>,
    /// Your tasks that carry it.
    pub task_count: i64,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl From<Label> for LabelJson {
    fn from(label: Label) -> Self {
        LabelJson {
            id: label.id,
            name: label.name,
            colour: label.colour,
            task_count: label.task_count,
            created_at: rfc3339(label.created_at),
            updated_at: rfc3339(label.updated_at),
        }
    }
}

/// A label's name in the OpenAPI document, as `domain::parse_label_name`
/// checks it: 1–50 characters, some not a space, no commas or control
/// characters. One schema that names, bodies and the filter refer to.
pub struct LabelName;

impl utoipa::PartialSchema for LabelName {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(50))
            .pattern(Some("^[^,\\x00-\\x1f\\x7f-\\x9f]*[^,\\s\\x00-\\x1f\\x7f-\\x9f][^,\\x00-\\x1f\\x7f-\\x9f]*$"))
            .into()
    }
}

impl ToSchema for LabelName {}

#[derive(Debug, Serialize, ToSchema)]
pub struct LabelItems {
    /// By name.
    pub items: Vec<LabelJson>,
}

/// Your labels, each with its count of tasks.
#[utoipa::path(get, path = "/api/v1/labels", tag = "labels", security(("bearer" = [])),
    responses((status = 200, body = LabelItems), (status = 401, body = ErrorBody)))]
pub async fn list(State(state): State<AppState>, ApiClaim(claim): ApiClaim) -> ApiResult<Json<LabelItems>> {
    let labels = labels::all(claim.rows(&state.db)).await?;
    Ok(Json(LabelItems { items: labels.into_iter().map(LabelJson::from).collect() }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLabel {
    #[schema(value_type = LabelName)]
    name: String,
    #[serde(default)]
    #[schema(pattern = "^(red|orange|yellow|green|teal|blue|purple|pink|grey)$")]
    colour: Option<String>,
}

/// Create a label.
#[utoipa::path(post, path = "/api/v1/labels", tag = "labels", request_body = NewLabel, security(("bearer" = [])),
    responses(
        (status = 201, body = LabelJson, headers(("Location" = String, description = "The new label's URL"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 409, description = "The name is taken, or the account holds MAX_LABELS_PER_USER labels",
         body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    ApiClaim(claim): ApiClaim,
    ApiJson(body): ApiJson<NewLabel>,
) -> ApiResult<impl IntoResponse> {
    let (name, colour) = match (parse_label_name(&body.name), parse_colour(body.colour.as_deref())) {
        (Ok(name), Ok(colour)) => (name, colour),
        (name, colour) => {
            return Err(ApiError::validation(collect_errors([("name", name.err()), ("colour", colour.err())])));
        }
    };
    let quota = state.config.quotas.labels_per_user;
    let label = labels::create(claim.rows(&state.db), &name, colour, quota)
        .await
        .map_err(name_taken("label"))?
        .ok_or(AppError::label_quota(quota))?;
    let location = format!("/api/v1/labels/{}", label.id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(LabelJson::from(label))))
}

/// One label.
#[utoipa::path(get, path = "/api/v1/labels/{id}", tag = "labels", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = LabelJson), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    ApiClaim(claim): ApiClaim,
    Path(id): Path<String>,
) -> ApiResult<Json<LabelJson>> {
    let label = labels::get(claim.rows(&state.db), path_id(&id)?).await?.ok_or_else(ApiError::not_found)?;
    Ok(Json(label.into()))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelChanges {
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = LabelName, nullable = false)]
    name: Option<Option<String>>,
    /// `null` removes the colour.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(pattern = "^(red|orange|yellow|green|teal|blue|purple|pink|grey)$")]
    colour: Option<Option<String>>,
}

/// Rename or recolour a label.
#[utoipa::path(patch, path = "/api/v1/labels/{id}", tag = "labels", params(("id" = i64, Path)),
    request_body = LabelChanges, security(("bearer" = [])),
    responses(
        (status = 200, body = LabelJson),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
    ))]
pub async fn update(
    State(state): State<AppState>,
    ApiClaim(claim): ApiClaim,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<LabelChanges>,
) -> ApiResult<Json<LabelJson>> {
    let id = path_id(&id)?;
    let name = match body.name.as_ref() {
        None => Ok(None),
        Some(None) => Err("The name cannot be null."),
        Some(Some(raw)) => parse_label_name(raw).map(Some),
    };
    let colour = body.colour.as_ref().map(|c| parse_colour(c.as_deref())).transpose();
    let patch = match (name, colour) {
        (Ok(name), Ok(colour)) => LabelPatch { name, colour },
        (name, colour) => {
            return Err(ApiError::validation(collect_errors([("name", name.err()), ("colour", colour.err())])));
        }
    };
    let label = labels::update(claim.rows(&state.db), id, &patch).await.map_err(name_taken("label"))?;
    Ok(Json(label.ok_or_else(ApiError::not_found)?.into()))
}

/// Delete a label; the tasks that carried it stay.
#[utoipa::path(delete, path = "/api/v1/labels/{id}", tag = "labels", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 204, description = "Deleted"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    ApiClaim(claim): ApiClaim,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    if labels::delete(claim.rows(&state.db), path_id(&id)?).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found())
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Merge {
    /// The label that stays: another of yours.
    #[serde(deserialize_with = "whole_number")]
    #[schema(minimum = 1, maximum = 9_007_199_254_740_991_i64, example = 2)]
    into: i64,
}

/// Merge a label into another: its tasks carry `into`, and it is gone.
#[utoipa::path(post, path = "/api/v1/labels/{id}/merge", tag = "labels", params(("id" = i64, Path, example = 1)),
    request_body = Merge, security(("bearer" = [])),
    responses(
        (status = 200, description = "The label that stays (`into`)", body = LabelJson),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, description = "Either label is not one of yours", body = ErrorBody),
        (status = 409, description = "`into` is the label itself", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
    ))]
pub async fn merge(
    State(state): State<AppState>,
    ApiClaim(claim): ApiClaim,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Merge>,
) -> ApiResult<Json<LabelJson>> {
    let id = path_id(&id)?;
    // Refused like the Inbox's deletion: a request the label's state rules
    // out (the body itself is well formed).
    if body.into == id {
        return Err(ApiError::new(StatusCode::CONFLICT, "same_label", "Merge a label into another one."));
    }
    let label = labels::merge(claim.rows(&state.db), id, body.into).await?.ok_or_else(ApiError::not_found)?;
    Ok(Json(label.into()))
}
