//! Tasks, scoped to the bearer's account like every query in `db::tasks`.

use axum::{
    Json,
    extract::{Path, RawQuery, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{
    ApiClaim, ApiError, ApiJson, ApiResult, ErrorBody, double_option, labels::LabelName, path_id, rfc3339, whole_number,
};
use crate::{
    app::AppState,
    db::tasks::{
        self, ListQuery, ParentFilter, Placement, Position, Refusal, Sort, StatusFilter, Task, TaskPatch, Updated, View,
    },
    domain::{
        MAX_LABELS_PER_TASK, TaskChangesDraft, TaskDraft, parse_id, parse_label_array, parse_labels,
        parse_priority_filter, parse_search, take_repeated,
    },
};

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TaskJson {
    pub id: i64,
    /// The list the task is in.
    pub list_id: i64,
    pub title: String,
    pub description: Option<String>,
    pub completed: bool,
    #[schema(format = DateTime)]
    pub completed_at: Option<String>,
    #[schema(format = Date)]
    pub due_date: Option<String>,
    /// `null`, or 1 (the highest) to 4.
    #[schema(minimum = 1, maximum = 4)]
    pub priority: Option<i32>,
    /// Its labels' names, by name.
    pub labels: Vec<String>,
    /// The task it is a subtask of (in the same list; one level deep).
    pub parent_id: Option<i64>,
    /// Its place in its list's manual order (`sort=manual`, ascending);
    /// changed by `POST /tasks/{id}/move`.
    pub position: f64,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl From<Task> for TaskJson {
    fn from(task: Task) -> Self {
        TaskJson {
            id: task.id,
            list_id: task.list_id,
            title: task.title,
            description: task.description,
            completed: task.completed,
            completed_at: task.completed_at.map(rfc3339),
            due_date: task.due_date.map(|d| d.to_string()),
            priority: task.priority,
            labels: task.labels,
            parent_id: task.parent_id,
            position: task.position,
            created_at: rfc3339(task.created_at),
            updated_at: rfc3339(task.updated_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TaskPage {
    pub items: Vec<TaskJson>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// `all` (default), `active` or `completed`.
    #[param(pattern = "^(all|active|completed)$")]
    status: Option<String>,
    /// Words to find in titles and descriptions (at most 200 characters).
    #[param(max_length = 200)]
    q: Option<String>,
    /// Page size, 1–100 (default 50).
    #[param(pattern = "^[0-9]+$")]
    limit: Option<String>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Only this list's tasks (an id that is not one of your lists: none).
    #[param(pattern = "^[0-9]+$")]
    list_id: Option<String>,
    /// Only tasks of this priority, 1–4, or `none` for those without one.
    #[param(pattern = "^([1-4]|none)$")]
    priority: Option<String>,
    /// Only the subtasks of this task, or `none` for tasks that are not
    /// subtasks (default: both).
    #[param(pattern = "^([0-9]+|none)$")]
    parent_id: Option<String>,
    /// `newest` (default); `priority`: 1 first, tasks without one last;
    /// `due`: soonest first, undated last; `manual`: each list's own order
    /// (`position`). Newest first within each.
    #[param(pattern = "^(newest|priority|due|manual)$")]
    sort: Option<String>,
    /// `today`: due today or overdue; `upcoming`: due in the 14 days from
    /// today (dates in UTC).
    #[param(pattern = "^(today|upcoming)$")]
    view: Option<String>,
    /// Only tasks with this label (its name, in any case); repeat it for
    /// tasks with all of them (at most 20).
    #[param(value_type = Option<Vec<LabelName>>, explode = true, max_items = 20)]
    #[serde(default)]
    #[allow(dead_code)] // For the OpenAPI document: `list` takes every `label` out first.
    label: Option<String>,
}

/// Your tasks, newest first, a page at a time (keyset pagination: pages stay
/// consistent while tasks are added or removed).
#[utoipa::path(get, path = "/api/v1/tasks", tag = "tasks", params(ListParams), security(("bearer" = [])),
    responses((status = 200, body = TaskPage), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    ApiClaim(claim): ApiClaim,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let once = || ApiError::validation([("query", "Give each parameter once (but label as often as needed).")]);
    let (labels, rest) = take_repeated(query.as_deref().unwrap_or_default(), "label").ok_or_else(once)?;
    let params: ListParams = serde_urlencoded::from_str(&rest).map_err(|_| once())?;
    if labels.len() > MAX_LABELS_PER_TASK || labels.iter().any(|l| l.trim().is_empty()) {
        return Err(ApiError::validation([("label", "Give 1 to 20 label names.")]));
    }
    let labels = parse_labels(labels.iter().map(String::as_str))
        .map_err(|message| ApiError::validation([("label", message)]))?;
    let status = match params.status.as_deref() {
        None => StatusFilter::All,
        Some(raw) => raw.parse().map_err(|message| ApiError::validation([("status", message)]))?,
    };
    let limit = match params.limit.as_deref() {
        None => 50,
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| ApiError::validation([("limit", "Use a whole number from 1 to 100.")]))?,
    };
    let sort = match params.sort.as_deref() {
        None => Sort::Newest,
        Some(raw) => {
            Sort::parse(raw).ok_or_else(|| ApiError::validation([("sort", "Use newest, priority, due or manual.")]))?
        }
    };
    let position = match params.cursor.as_deref() {
        None | Some("") => Position::Offset(0),
        Some(raw) => sort.parse_cursor(raw).map(Position::After).ok_or_else(|| {
            ApiError::validation([("cursor", "Use the next_cursor of a previous page, in the same sort.")])
        })?,
    };
    let search = parse_search(params.q.as_deref()).map_err(|message| ApiError::validation([("q", message)]))?;
    let list = match params.list_id.as_deref() {
        None => None,
        Some(raw) => {
            Some(parse_id(raw).ok_or_else(|| ApiError::validation([("list_id", "Use the id of one of your lists.")]))?)
        }
    };
    let priority = match params.priority.as_deref() {
        None => None,
        Some(raw) => Some(parse_priority_filter(raw).map_err(|message| ApiError::validation([("priority", message)]))?),
    };
    let view = match params.view.as_deref() {
        None => None,
        Some(raw) => Some((
            View::parse(raw).ok_or_else(|| ApiError::validation([("view", "Use today or upcoming.")]))?,
            tasks::today(),
        )),
    };
    let parent = match params.parent_id.as_deref() {
        None => ParentFilter::Any,
        Some("none") => ParentFilter::TopLevel,
        Some(raw) => ParentFilter::Of(
            parse_id(raw)
                .ok_or_else(|| ApiError::validation([("parent_id", "Use the id of one of your tasks, or none.")]))?,
        ),
    };
    let query = ListQuery { sort, view, list, priority, labels: &labels, parent, status, search, position, limit };
    if let Some(page) = tasks::list_json(claim.rows(&state.db), &query).await? {
        return Ok(page_of(page));
    }
    let page = tasks::list(claim.rows(&state.db), &query).await?;
    let next_cursor = if page.has_older { page.tasks.last().map(|t| sort.cursor_of(t).to_string()) } else { None };
    Ok(Json(TaskPage { items: page.tasks.into_iter().map(TaskJson::from).collect(), next_cursor }).into_response())
}

/// A [`TaskPage`] whose items the database wrote as JSON (`tasks::list_json`).
fn page_of(page: tasks::JsonPage) -> Response {
    let cursor = page.next_cursor.map_or_else(|| "null".to_owned(), |id| format!("\"{id}\""));
    let body = format!("{{\"items\":{},\"next_cursor\":{cursor}}}", page.items);
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTask {
    #[schema(min_length = 1, max_length = 255)]
    title: String,
    #[serde(default)]
    #[schema(max_length = 10000)]
    description: Option<String>,
    #[serde(default)]
    #[schema(format = Date)]
    due_date: Option<String>,
    #[serde(default)]
    completed: Option<bool>,
    /// `null` (the default), or 1 (the highest) to 4.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 4)]
    priority: Option<i64>,
    /// The list to put the task in (default: your Inbox).
    #[serde(default)]
    #[schema(minimum = 1)]
    list_id: Option<i64>,
    /// Label names (at most 20); those you have not made yet are made.
    #[serde(default)]
    #[schema(max_items = 20, value_type = Option<Vec<LabelName>>)]
    labels: Option<Vec<String>>,
    /// Makes it a subtask of this task of yours, in that task's list (which
    /// `list_id`, if given, must be); that task must not be a subtask itself.
    #[serde(default, deserialize_with = "maybe_whole_number")]
    #[schema(minimum = 1, maximum = 9_007_199_254_740_991_i64)]
    parent_id: Option<i64>,
}

/// Create a task.
#[utoipa::path(post, path = "/api/v1/tasks", tag = "tasks", request_body = NewTask, security(("bearer" = [])),
    responses(
        (status = 201, body = TaskJson, headers(("Location" = String, description = "The new task's URL"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, description = "`list_id` is not one of your lists", body = ErrorBody),
        (status = 409, description = "The account holds MAX_TASKS_PER_USER tasks", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    ApiClaim(claim): ApiClaim,
    ApiJson(body): ApiJson<NewTask>,
) -> ApiResult<impl IntoResponse> {
    let draft = TaskDraft {
        title: body.title,
        description: body.description.unwrap_or_default(),
        due_date: body.due_date.unwrap_or_default(),
        priority: body.priority.map(|p| p.to_string()).unwrap_or_default(),
        labels: String::new(),
    };
    let mut input = draft.parse();
    let labels = parse_label_array(body.labels.as_deref().unwrap_or_default());
    match (&mut input, labels) {
        (Ok(input), Ok(labels)) => input.labels = labels,
        (Ok(_), Err(message)) => return Err(ApiError::validation([("labels", message)])),
        (Err(errors), labels) => errors.extend(labels.err().map(|message| ("labels", message))),
    }
    let mut input = input.map_err(ApiError::validation)?;
    input.parent_id = body.parent_id;
    let quotas = state.config.quotas.for_tasks();
    let mut task = match tasks::create(claim.rows(&state.db), &input, body.list_id, quotas).await? {
        tasks::Created::Task(task) => task,
        tasks::Created::NoSuchList => return Err(ApiError::not_found()),
        tasks::Created::QuotaFull => return Err(crate::error::AppError::task_quota(quotas.tasks).into()),
        tasks::Created::Refused(refusal) => return Err(refused(refusal)),
    };
    if body.completed == Some(true) {
        let patch = TaskPatch { completed: Some(true), ..Default::default() };
        task = updated(tasks::update(claim.rows(&state.db), task.id, &patch, quotas.labels).await?)?;
    }
    let location = format!("/api/v1/tasks/{}", task.id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(TaskJson::from(task))))
}

/// One task.
#[utoipa::path(get, path = "/api/v1/tasks/{id}", tag = "tasks", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = TaskJson), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    ApiClaim(claim): ApiClaim,
    Path(id): Path<String>,
) -> ApiResult<Json<TaskJson>> {
    let task = tasks::get(claim.rows(&state.db), path_id(&id)?).await?.ok_or_else(ApiError::not_found)?;
    Ok(Json(task.into()))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskChanges {
    #[serde(default, deserialize_with = "double_option")]
    #[schema(min_length = 1, max_length = 255, nullable = false)]
    title: Option<Option<String>>,
    /// `null` removes the description.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(max_length = 10000)]
    description: Option<Option<String>>,
    /// `null` removes the due date.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(format = Date)]
    due_date: Option<Option<String>>,
    /// 1 (the highest) to 4; `null` removes the priority.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(minimum = 1, maximum = 4)]
    priority: Option<Option<i64>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(nullable = false)]
    completed: Option<Option<bool>>,
    /// Moves the task to this list of yours.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(nullable = false, minimum = 1)]
    list_id: Option<Option<i64>>,
    /// Replaces the task's labels (`[]` removes them all); names you have
    /// not made yet are made.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(nullable = false, max_items = 20, value_type = Option<Vec<LabelName>>)]
    labels: Option<Option<Vec<String>>>,
    /// Makes it a subtask of this task of yours (it moves to that task's
    /// list); `null` makes it a task of its own again.
    #[serde(default, deserialize_with = "double_whole_number")]
    #[schema(minimum = 1, maximum = 9_007_199_254_740_991_i64)]
    parent_id: Option<Option<i64>>,
}

/// Absent, `null`, or a whole number.
fn double_whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
    maybe_whole_number(d).map(Some)
}

impl TaskChanges {
    fn draft(&self) -> TaskChangesDraft<'_> {
        TaskChangesDraft {
            title: self.title.as_ref().map(Option::as_deref),
            description: self.description.as_ref().map(Option::as_deref),
            due_date: self.due_date.as_ref().map(Option::as_deref),
            priority: self.priority,
            completed: self.completed,
            labels: self.labels.as_ref().map(Option::as_deref),
        }
    }
}

/// Change some of a task's fields.
#[utoipa::path(patch, path = "/api/v1/tasks/{id}", tag = "tasks", params(("id" = i64, Path)), request_body = TaskChanges,
    security(("bearer" = [])),
    responses(
        (status = 200, body = TaskJson),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
    ))]
pub async fn update(
    State(state): State<AppState>,
    ApiClaim(claim): ApiClaim,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<TaskChanges>,
) -> ApiResult<Json<TaskJson>> {
    let id = path_id(&id)?;
    let mut patch = body.draft().parse().map_err(ApiError::validation)?;
    patch.list_id = match body.list_id {
        None => None,
        Some(None) => return Err(ApiError::validation([("list_id", "Use the id of one of your lists.")])),
        Some(Some(list)) => Some(list),
    };
    patch.parent_id = body.parent_id;
    let label_quota = state.config.quotas.labels_per_user;
    let task = updated(tasks::update(claim.rows(&state.db), id, &patch, label_quota).await?)?;
    Ok(Json(task.into()))
}

/// What a refused parent or list answers: 422, with the field.
fn refused(refusal: Refusal) -> ApiError {
    ApiError::validation([refusal.field()])
}

fn updated(updated: Updated) -> ApiResult<Task> {
    match updated {
        Updated::Task(task) => Ok(task),
        Updated::NotFound => Err(ApiError::not_found()),
        Updated::Refused(refusal) => Err(refused(refusal)),
    }
}

/// Delete a task.
#[utoipa::path(delete, path = "/api/v1/tasks/{id}", tag = "tasks", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 204, description = "Deleted"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    ApiClaim(claim): ApiClaim,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    if tasks::delete(claim.rows(&state.db), path_id(&id)?).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found())
    }
}

/// Where to move a task: next to another, or to an end of its list; in
/// another list of yours with `list_id`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum MoveTask {
    Before(MoveBefore),
    After(MoveAfter),
    To(MoveTo),
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveBefore {
    /// Just above this task (in `list_id` if given).
    #[serde(deserialize_with = "whole_number")]
    #[schema(minimum = 1, maximum = 9_007_199_254_740_991_i64)]
    before_id: i64,
    /// Into this list of yours (`null`: the task's own).
    #[serde(default, deserialize_with = "maybe_whole_number")]
    #[schema(minimum = 1, maximum = 9_007_199_254_740_991_i64)]
    list_id: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveAfter {
    /// Just below this task.
    #[serde(deserialize_with = "whole_number")]
    #[schema(minimum = 1, maximum = 9_007_199_254_740_991_i64)]
    after_id: i64,
    #[serde(default, deserialize_with = "maybe_whole_number")]
    #[schema(minimum = 1, maximum = 9_007_199_254_740_991_i64)]
    list_id: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveTo {
    to: Edge,
    #[serde(default, deserialize_with = "maybe_whole_number")]
    #[schema(minimum = 1, maximum = 9_007_199_254_740_991_i64)]
    list_id: Option<i64>,
}

#[derive(Clone, Copy, Debug, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Edge {
    Top,
    Bottom,
}

/// A whole number or `null`.
fn maybe_whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    struct Whole(#[serde(deserialize_with = "whole_number")] i64);
    Ok(Option::<Whole>::deserialize(d)?.map(|Whole(n)| n))
}

/// Move a task in its list's manual order, or to another list.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/move", tag = "tasks", params(("id" = i64, Path)), request_body = MoveTask,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The task, with its new `position` (and `list_id`)", body = TaskJson),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, description = "The task, the task named to go next to, or the list is not yours", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, description = "Not one of the three forms, a task next to itself, or a task in another list than `list_id`",
         body = ErrorBody),
    ))]
pub async fn move_task(
    State(state): State<AppState>,
    ApiClaim(claim): ApiClaim,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<MoveTask>,
) -> ApiResult<Json<TaskJson>> {
    let id = path_id(&id)?;
    let (placement, list) = match body {
        MoveTask::Before(MoveBefore { before_id, list_id }) => (Placement::Before(before_id), list_id),
        MoveTask::After(MoveAfter { after_id, list_id }) => (Placement::After(after_id), list_id),
        MoveTask::To(MoveTo { to: Edge::Top, list_id }) => (Placement::Top, list_id),
        MoveTask::To(MoveTo { to: Edge::Bottom, list_id }) => (Placement::Bottom, list_id),
    };
    if matches!(placement, Placement::Before(other) | Placement::After(other) if other == id) {
        return Err(ApiError::validation([("before_id", "Move a task next to another one.")]));
    }
    match tasks::move_task(claim.rows(&state.db), id, placement, list).await? {
        tasks::Moved::Task(task) => Ok(Json(task.into())),
        tasks::Moved::NotFound => Err(ApiError::not_found()),
        tasks::Moved::NotInThatList => {
            Err(ApiError::validation([("list_id", "The task to go next to is in another list.")]))
        }
        tasks::Moved::Refused(refusal) => Err(refused(refusal)),
    }
}
