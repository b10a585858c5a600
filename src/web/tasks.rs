//! The task list and its actions. Every action works as a plain form post
//! that redirects back to the list it came from; with htmx (`HX-Request`)
//! the same handler answers with the fragment to swap in instead.

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    extract::{FromRequestParts, Path},
    http::{HeaderValue, StatusCode, request::Parts},
    response::{IntoResponse, Redirect, Response},
};
use serde::{Deserialize, Serialize};
use time::Date;
use uuid::Uuid;

use super::{
    extract::{ClaimedRequest, Form, Layout, UserRequest, navigate, path_id},
    flash::{Done, Flash, Notice},
};
use crate::{
    db::{
        UserDb, fold,
        labels::LabelSummary,
        lists::{self, List, ListSummary},
        tasks::{
            self, Counts, ListQuery, Overview, ParentFilter, Placement, Position, Refusal, Sort, StatusFilter, Task,
            TaskInput, TaskPatch, Toggled, Updated, View,
        },
    },
    domain::{
        FieldErrors, MAX_LABELS_PER_TASK, MAX_SEARCH_CHARS, TaskDraft, error_of, parse_id, parse_label_name,
        parse_labels, parse_priority_filter, take_repeated,
    },
    error::AppError,
};

pub const PAGE_SIZE: i64 = 50;

/// The list's query string as it arrives: anything unusable falls back to
/// the default view rather than failing the page.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct ListParams {
    /// The list viewed (`/lists/{id}` names it in its path; `/tasks` takes it
    /// here, as the API does).
    list_id: Option<String>,
    status: Option<String>,
    /// `1`–`4`, or `none`; anything else shows every priority.
    priority: Option<String>,
    /// `newest` (the default), `priority` or `due`.
    sort: Option<String>,
    /// `today` or `upcoming` (`/today` and `/upcoming` name it in their path).
    view: Option<String>,
    /// A task's id: its subtasks.
    parent_id: Option<String>,
    q: Option<String>,
    page: Option<String>,
    after: Option<String>,
    before: Option<String>,
    /// Repeatable (`label=a&label=b`): taken apart by [`ListParams::parse`].
    #[serde(skip)]
    label: Vec<String>,
}

impl ListParams {
    /// A query string, its labels included; `None` when it is none, or
    /// names another parameter twice.
    fn parse(raw: &str) -> Option<Self> {
        let (label, rest) = take_repeated(raw, "label")?;
        let params: ListParams = serde_urlencoded::from_str(&rest).ok()?;
        Some(ListParams { label, ..params })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ListParams {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        ListParams::parse(parts.uri.query().unwrap_or_default()).ok_or(AppError::BadRequest)
    }
}

/// Which view of the list is shown: filter, search, page.
#[derive(Clone, Debug)]
pub struct ListState {
    /// The list viewed; `None` for all tasks.
    pub list: Option<i64>,
    pub status: StatusFilter,
    /// `Some(None)`: tasks without a priority.
    pub priority: Option<Option<i32>>,
    /// Only tasks with all of these labels.
    pub labels: Vec<String>,
    pub sort: Sort,
    /// Today or Upcoming.
    pub view: Option<View>,
    /// The task whose subtasks are shown.
    pub parent: Option<i64>,
    pub search: String,
    pub page: i64,
    position: Position,
}

impl ListState {
    fn from_params(params: ListParams) -> Self {
        // An unknown filter in a typed URL shows the whole list.
        let status = params.status.as_deref().and_then(|s| s.parse().ok()).unwrap_or_default();
        // The pages keep the first characters of a longer search rather than refuse it.
        let search = params.q.unwrap_or_default().trim().chars().take(MAX_SEARCH_CHARS).collect();
        let page = params.page.and_then(|p| p.parse::<i64>().ok()).filter(|p| (1..=1_000_000).contains(p)).unwrap_or(1);
        let view = params.view.as_deref().and_then(View::parse);
        let sort = params.sort.as_deref().and_then(Sort::parse).unwrap_or_else(|| Self::default_sort(view));
        let cursor = |c: Option<String>| c.and_then(|c| sort.parse_cursor(&c));
        let position = match (cursor(params.after), cursor(params.before)) {
            (Some(after), _) => Position::After(after),
            (None, Some(before)) => Position::Before(before),
            (None, None) => Position::Offset((page - 1) * PAGE_SIZE),
        };
        let priority = params.priority.as_deref().and_then(|raw| parse_priority_filter(raw).ok());
        let list = params.list_id.as_deref().and_then(parse_id);
        let parent = params.parent_id.as_deref().and_then(parse_id);
        // Names no label can have are dropped, as an unknown filter is.
        let names = params.label.iter().filter_map(|raw| parse_label_name(raw).ok()).take(MAX_LABELS_PER_TASK);
        let labels = parse_labels(names.collect::<Vec<_>>().iter().map(String::as_str)).unwrap_or_default();
        ListState { list, status, priority, labels, sort, view, parent, search, page, position }
    }

    /// Upcoming reads soonest first unless told otherwise.
    fn default_sort(view: Option<View>) -> Sort {
        if view == Some(View::Upcoming) { Sort::Due } else { Sort::Newest }
    }

    /// The view a form's hidden `back` field names.
    fn from_back(back: Option<&str>) -> Self {
        Self::from_params(ListParams::parse(back.unwrap_or_default()).unwrap_or_default())
    }

    /// The filter's name in a URL; none for the whole list.
    fn status_name(status: StatusFilter) -> Option<&'static str> {
        (status != StatusFilter::All).then(|| status.as_str())
    }

    fn query_for(&self, status: StatusFilter, page: i64, position: Position) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if let Some(name) = Self::status_name(status) {
            pairs.push(("status", name.into()));
        }
        if let Some(priority) = self.priority {
            pairs.push(("priority", priority.map_or_else(|| "none".to_owned(), |p| p.to_string())));
        }
        for label in &self.labels {
            pairs.push(("label", label.clone()));
        }
        if let Some(parent) = self.parent {
            pairs.push(("parent_id", parent.to_string()));
        }
        if !self.search.is_empty() {
            pairs.push(("q", self.search.clone()));
        }
        if self.sort != Self::default_sort(self.view) {
            pairs.push(("sort", self.sort.as_str().into()));
        }
        // A date view names itself in its path, unless it is within a list.
        if let (Some(view), Some(_)) = (self.view, self.list) {
            pairs.push(("view", view.as_str().into()));
        }
        if page > 1 {
            pairs.push(("page", page.to_string()));
            match position {
                Position::After(cursor) => pairs.push(("after", cursor.to_string())),
                Position::Before(cursor) => pairs.push(("before", cursor.to_string())),
                Position::Offset(_) => {}
            }
        }
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    }

    /// Where this view lives: all tasks, or one list.
    pub fn path(&self) -> String {
        match (self.list, self.view) {
            (Some(id), _) => format!("/lists/{id}"),
            (None, Some(view)) => format!("/{}", view.as_str()),
            (None, None) => "/tasks".into(),
        }
    }

    fn url(&self, query: String) -> String {
        if query.is_empty() { self.path() } else { format!("{}?{query}", self.path()) }
    }

    /// The query string that shows this view again (at its path).
    pub fn query(&self) -> String {
        self.query_for(self.status, self.page, self.position)
    }

    /// What a form's `back` says: the view, its list included.
    pub fn back(&self) -> String {
        let mut parts = Vec::new();
        match (self.list, self.view) {
            (Some(id), _) => parts.push(format!("list_id={id}")),
            (None, Some(view)) => parts.push(format!("view={}", view.as_str())),
            (None, None) => {}
        }
        let query = self.query();
        if !query.is_empty() {
            parts.push(query);
        }
        parts.join("&")
    }

    /// The first page of the list under another filter, keeping the search.
    pub fn filter_url(&self, status: &str) -> String {
        let status = status.parse().unwrap_or_default();
        self.url(self.query_for(status, 1, Position::Offset(0)))
    }

    pub fn is(&self, status: &str) -> bool {
        Self::status_name(self.status).unwrap_or("all") == status
    }

    pub fn sort_is(&self, value: &str) -> bool {
        self.sort.as_str() == value
    }

    /// Whether the priority filter is `value` (`""` any, `none`, `1`–`4`).
    pub fn priority_is(&self, value: &str) -> bool {
        match self.priority {
            None => value.is_empty(),
            Some(None) => value == "none",
            Some(Some(p)) => value == p.to_string(),
        }
    }

    pub fn status_value(&self) -> &'static str {
        Self::status_name(self.status).unwrap_or("")
    }

    /// The first page of this view with its label filter `labels`.
    fn with_labels(&self, labels: Vec<String>) -> String {
        let view = ListState { labels, ..self.clone() };
        view.url(view.query_for(view.status, 1, Position::Offset(0)))
    }

    /// This view, also filtered by label `name`.
    pub fn label_url(&self, name: &str) -> String {
        let mut labels = self.labels.clone();
        if !self.has_label(name) {
            labels.push(name.to_owned());
        }
        self.with_labels(labels)
    }

    /// This view without label `name` in its filter.
    pub fn without_label_url(&self, name: &str) -> String {
        self.with_labels(self.labels.iter().filter(|l| fold(l) != fold(name)).cloned().collect())
    }

    pub fn has_label(&self, name: &str) -> bool {
        self.labels.iter().any(|l| fold(l) == fold(name))
    }

    /// This view without the parent: the list the subtasks are in.
    pub fn without_parent_url(&self) -> String {
        let view = ListState { parent: None, ..self.clone() };
        view.url(view.query_for(view.status, 1, Position::Offset(0)))
    }

    /// Which tasks show by their parent: a task's subtasks when one is
    /// named; else, in a list as it is, the tasks without their subtasks
    /// (each shows its progress); in a date view, a search or a filter by
    /// label or priority, every task that matches, subtasks too.
    fn parent_filter(&self) -> ParentFilter {
        match self.parent {
            Some(parent) => ParentFilter::Of(parent),
            None if self.view.is_none()
                && self.labels.is_empty()
                && self.priority.is_none()
                && self.search.is_empty() =>
            {
                ParentFilter::TopLevel
            }
            None => ParentFilter::Any,
        }
    }
}

/// The subtasks of task `id` in list `list`: the link of a task's progress.
pub fn subtasks_url(list: i64, id: i64) -> String {
    format!("/lists/{list}?parent_id={id}")
}

/// How a due date reads: relative, with the exact date beside it.
pub struct Due {
    pub label: String,
    pub iso: String,
    pub overdue: bool,
}

impl Due {
    fn new(date: Date, today: Date, completed: bool) -> Self {
        let days = (date - today).whole_days();
        let label = match days {
            0 => "due today".to_owned(),
            1 => "due tomorrow".to_owned(),
            -1 => "due yesterday".to_owned(),
            2..=13 => format!("due in {days} days"),
            d if d < 0 => format!("{} days overdue", -d),
            _ => format!("due {date}"),
        };
        let label = if completed && days < 0 { format!("was due {date}") } else { label };
        Due { label, iso: date.to_string(), overdue: days < 0 && !completed }
    }
}

/// "Today, Monday 7 December", "Tomorrow, …", "Wednesday 9 December".
fn day_heading(date: Date, today: Date) -> String {
    let name = format!("{} {} {}", date.weekday(), date.day(), date.month());
    match (date - today).whole_days() {
        0 => format!("Today, {name}"),
        1 => format!("Tomorrow, {name}"),
        _ => name,
    }
}

pub struct TaskView {
    pub task: Task,
    pub due: Option<Due>,
    /// In Upcoming, soonest first: the day's heading above its first task.
    pub day: Option<String>,
}

impl TaskView {
    /// Where its subtasks are listed.
    pub fn subtasks_url(&self) -> String {
        subtasks_url(self.task.list_id, self.task.id)
    }

    /// Where its parent's subtasks (it among them) are listed.
    pub fn parent_url(&self) -> String {
        subtasks_url(self.task.list_id, self.task.parent_id.unwrap_or_default())
    }
}

/// Everything the list fragment shows.
pub struct ListView {
    pub tasks: Vec<TaskView>,
    /// Of the list viewed, or of all tasks.
    pub counts: Counts,
    /// The navigation's lists, with their open tasks.
    pub lists: Vec<ListSummary>,
    /// The owner's labels, by name.
    pub labels: Vec<LabelSummary>,
    /// What a task's label chip shows, made once a page for each label
    /// (chips repeat on every task).
    chips: Vec<Chip>,
    /// The list viewed.
    pub current: Option<ListSummary>,
    /// The task whose subtasks are shown.
    pub parent: Option<Task>,
    /// Open tasks in all lists, in Today and in Upcoming.
    pub all_open: i64,
    pub today_open: i64,
    pub upcoming_open: i64,
    pub state: ListState,
    /// `state.query()`, made once: every form on the page carries it.
    pub back: String,
    /// `?` and `back`, for links; empty for the default view.
    pub back_suffix: String,
    pub newer_url: Option<String>,
    pub older_url: Option<String>,
    /// Read out by screen readers after an htmx swap (the page copies it
    /// into its live region); empty when there is nothing to say.
    pub announce: String,
}

impl ListView {
    pub fn is_empty_everywhere(&self) -> bool {
        self.counts.active + self.counts.completed == 0
    }

    pub fn is_current(&self, id: &i64) -> bool {
        self.state.list == Some(*id)
    }

    /// What the page's heading says.
    pub fn heading(&self) -> &str {
        match (&self.current, self.state.view) {
            (Some(list), _) => list.name.as_str(),
            (None, Some(View::Today)) => "Today",
            (None, Some(View::Upcoming)) => "Upcoming",
            (None, None) => "All tasks",
        }
    }

    /// "Mark all" and "Clear completed" act on a list or on all tasks,
    /// never on a date view's or a task's slice of them.
    pub fn has_bulk_actions(&self) -> bool {
        self.state.view.is_none() && self.state.parent.is_none() && !self.is_empty_everywhere()
    }

    /// What the counts are of, said when the tasks shown are fewer (a
    /// filter, a search, a task's subtasks): the counts are the list's.
    pub fn counts_scope(&self) -> Option<&'static str> {
        let state = &self.state;
        let narrowed =
            !state.labels.is_empty() || state.priority.is_some() || !state.search.is_empty() || state.parent.is_some();
        narrowed.then_some(match (&self.current, state.view) {
            (Some(_), _) => "in this list",
            (None, Some(View::Today)) => "in Today",
            (None, Some(View::Upcoming)) => "in Upcoming",
            (None, None) => "in all tasks",
        })
    }

    pub fn is_view(&self, name: &str) -> bool {
        self.current.is_none() && self.state.view.map(View::as_str) == Some(name)
    }

    pub fn is_all(&self) -> bool {
        self.current.is_none() && self.state.view.is_none()
    }

    /// The Move buttons: in one list's own order, unfiltered, where up and
    /// down are the neighbours shown (a filter hides some of them).
    pub fn can_reorder(&self) -> bool {
        let state = &self.state;
        let unfiltered = state.status == StatusFilter::All
            && state.priority.is_none()
            && state.labels.is_empty()
            && state.search.is_empty();
        self.current.is_some() && state.sort == Sort::Manual && state.view.is_none() && unfiltered
    }

    /// The chip of the owner's label `name` (as a task names it, which is
    /// the label's own spelling).
    pub fn chip(&self, name: &str) -> Option<&Chip> {
        self.chips.iter().find(|chip| chip.name == name)
    }

    /// The colour of the owner's label `name`, if it has one.
    pub fn label_colour(&self, name: &str) -> Option<&str> {
        let folded = fold(name);
        self.labels.iter().find(|l| fold(&l.name) == folded).and_then(|l| l.colour.as_deref())
    }
}

/// A label's chip on a task: its colour, and this view filtered by it too.
pub struct Chip {
    name: String,
    pub colour: Option<String>,
    pub url: String,
}

impl ListState {
    fn list_query(&self) -> ListQuery<'_> {
        let search = (!self.search.is_empty()).then_some(self.search.as_str());
        ListQuery {
            sort: self.sort,
            view: self.view.map(|view| (view, tasks::today())),
            list: self.list,
            priority: self.priority,
            labels: &self.labels,
            parent: self.parent_filter(),
            status: self.status,
            search,
            position: self.position,
            limit: PAGE_SIZE,
        }
    }
}

/// The view of `page`, or not found when the list viewed is not the owner's
/// (another user's list answers exactly like a missing one).
fn list_view(view: ListState, page: tasks::TaskPage, overview: Overview) -> Result<ListView, AppError> {
    let today = tasks::today();
    let current = match view.list {
        Some(id) => Some(overview.lists.iter().find(|l| l.id == id).cloned().ok_or(AppError::NotFound)?),
        None => None,
    };
    let counts = match (&current, view.view) {
        (Some(list), _) => Counts { active: list.open_count, completed: list.done_count },
        (None, Some(View::Today)) => Counts { active: overview.today, completed: 0 },
        (None, Some(View::Upcoming)) => Counts { active: overview.upcoming, completed: 0 },
        (None, None) => overview.counts,
    };
    let newer_url = (page.has_newer && view.page > 1).then(|| {
        let position = match page.tasks.first() {
            Some(first) if view.page > 2 => Position::Before(view.sort.cursor_of(first)),
            _ => Position::Offset(0),
        };
        view.url(view.query_for(view.status, view.page - 1, position))
    });
    let older_url = match (page.has_older, page.tasks.last()) {
        (true, Some(last)) => {
            Some(view.url(view.query_for(view.status, view.page + 1, Position::After(view.sort.cursor_of(last)))))
        }
        _ => None,
    };
    let grouped = view.view == Some(View::Upcoming) && view.sort == Sort::Due;
    let mut last_day = None;
    let tasks = page
        .tasks
        .into_iter()
        .map(|task| {
            let day = match task.due_date {
                Some(date) if grouped && last_day != Some(date) => {
                    last_day = Some(date);
                    Some(day_heading(date, today))
                }
                _ => None,
            };
            TaskView { due: task.due_date.map(|d| Due::new(d, today, task.completed)), day, task }
        })
        .collect();
    let back = view.back();
    let back_suffix = if back.is_empty() { String::new() } else { format!("?{back}") };
    let (all_open, today_open, upcoming_open) = (overview.counts.active, overview.today, overview.upcoming);
    let chips = overview
        .labels
        .iter()
        .map(|l| Chip { name: l.name.clone(), colour: l.colour.clone(), url: view.label_url(&l.name) })
        .collect();
    Ok(ListView {
        tasks,
        counts,
        lists: overview.lists,
        labels: overview.labels,
        chips,
        current,
        parent: None,
        all_open,
        today_open,
        upcoming_open,
        back,
        back_suffix,
        state: view,
        newer_url,
        older_url,
        announce: String::new(),
    })
}

/// The fields of the create and edit forms, as typed, with their errors.
#[derive(Default)]
pub struct TaskFields {
    pub draft: TaskDraft,
    pub completed: bool,
    /// The task's list (the edit form's choice).
    pub list_id: Option<i64>,
    /// Where its subtasks are, for a task that can have them.
    pub subtasks_url: Option<String>,
    pub errors: FieldErrors,
}

impl TaskFields {
    fn from_task(task: &Task) -> Self {
        TaskFields {
            draft: task.draft(),
            completed: task.completed,
            list_id: Some(task.list_id),
            subtasks_url: task.parent_id.is_none().then(|| subtasks_url(task.list_id, task.id)),
            errors: FieldErrors::new(),
        }
    }

    /// Whether the form has the task in list `id`.
    pub fn in_list(&self, id: &i64) -> bool {
        self.list_id == Some(*id)
    }

    /// What is wrong with `field`, for the template.
    pub fn error(&self, field: &str) -> Option<&'static str> {
        error_of(&self.errors, field)
    }

    /// Whether a field other than `field` is wrong (the create form opens
    /// its details then).
    pub fn has_error_besides(&self, field: &str) -> bool {
        self.errors.iter().any(|(name, _)| *name != field)
    }
}

#[derive(Debug, Deserialize)]
pub struct TaskForm {
    #[serde(flatten)]
    draft: TaskDraft,
    completed: Option<String>,
    /// The edit form's list; a value that names no list of the owner's
    /// finds no task to change (404).
    list_id: Option<String>,
    back: Option<String>,
}

impl TaskForm {
    /// The checked input, or the fields to show again with their errors.
    fn parse(self) -> Result<(TaskInput, bool, Option<i64>), Box<TaskFields>> {
        // A checkbox: present when ticked.
        let completed = matches!(self.completed.as_deref(), Some("on" | "true" | "1"));
        // Not a positive number: no list (id 0 is nobody's).
        let list_id = self.list_id.as_deref().map(|raw| raw.trim().parse::<i64>().unwrap_or(0).max(0));
        match self.draft.parse() {
            Ok(input) => Ok((input, completed, list_id)),
            Err(errors) => {
                Err(Box::new(TaskFields { draft: self.draft, completed, list_id, subtasks_url: None, errors }))
            }
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct BackForm {
    back: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ToggleAllForm {
    /// `true` marks every task done, `false` every one not done; without it,
    /// all done unless all already are (TodoMVC's toggle-all).
    completed: Option<String>,
    back: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct MoveForm {
    /// `up`, `down`, `top` or `bottom`.
    to: Option<String>,
    back: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct UndoForm {
    batch: Option<String>,
    back: Option<String>,
}

#[derive(Template, WebTemplate)]
// The list's pages go out with runs of template whitespace collapsed (decision 0023).
#[template(path = "tasks/index.html", whitespace = "minimize")]
pub struct TasksPage {
    layout: Layout,
    list: ListView,
    form: TaskFields,
}

#[derive(Template, WebTemplate)]
#[template(path = "tasks/_list.html", whitespace = "minimize")]
pub struct ListFragment {
    layout: Layout,
    list: ListView,
}

#[derive(Template, WebTemplate)]
#[template(path = "tasks/_new_form.html")]
pub struct NewFormFragment {
    layout: Layout,
    form: TaskFields,
}

#[derive(Template, WebTemplate)]
#[template(path = "tasks/edit.html")]
pub struct EditPage {
    layout: Layout,
    inline: bool,
    id: i64,
    back: String,
    cancel: String,
    lists: Vec<List>,
    form: TaskFields,
}

#[derive(Template, WebTemplate)]
#[template(path = "tasks/_edit_item.html")]
pub struct EditFragment {
    layout: Layout,
    inline: bool,
    id: i64,
    back: String,
    cancel: String,
    lists: Vec<List>,
    form: TaskFields,
}

/// What an action tells the user afterwards.
struct Outcome {
    /// Said to screen reader users after an htmx swap.
    announce: String,
    /// Shown on screen, also after the redirect of a plain form post.
    flash: Option<Flash>,
}

impl Outcome {
    /// A plain action: `announce` is the full sentence (with the title) that
    /// htmx shows and screen readers hear; `done` is what survives a redirect.
    fn say(announce: String, done: Done) -> Self {
        Outcome { announce, flash: Some(Flash::Done(done)) }
    }

    fn show(flash: Flash) -> Self {
        Outcome { announce: String::new(), flash: Some(flash) }
    }
}

fn quoted(title: &str) -> String {
    format!("“{title}”")
}

/// After an action: the list fragment for htmx, a redirect to the same view otherwise.
/// A list deleted meanwhile (in another tab) sends the view back to all
/// tasks: the action itself has been done.
async fn back_to_list(request: ClaimedRequest, mut view: ListState, outcome: Outcome) -> Result<Response, AppError> {
    if !request.htmx() {
        if let Some(flash) = &outcome.flash {
            flash.store(request.cookies(), request.state());
        }
        if let Some(id) = view.list
            && lists::get(request.db(), id).await?.is_none()
        {
            view = ListState { list: None, ..view };
        }
        if parent_of(request.db(), &view).await?.is_none() {
            view = ListState { parent: None, ..view };
        }
        return Ok(Redirect::to(&view.url(view.query())).into_response());
    }
    let (mut request, mut page, mut overview) = request.list(&view.list_query(), true).await?;
    if let Some(id) = view.list
        && !overview.lists.iter().any(|list| list.id == id)
    {
        view = ListState { list: None, ..view };
        (_, page, overview) = tasks::list_checked(request.db(), &view.list_query(), true).await?;
    }
    // The task whose subtasks were shown is gone (deleted, or moved to
    // another list): its list as it is.
    let parent = match parent_of(request.db(), &view).await? {
        Some(parent) => parent,
        None => {
            view = ListState { parent: None, ..view };
            (_, page, overview) = tasks::list_checked(request.db(), &view.list_query(), true).await?;
            None
        }
    };
    let mut list = list_view(view, page, overview)?;
    list.parent = parent;
    let mut notice = outcome.flash.as_ref().map(Flash::notice);
    if let (Some(notice), Some(Flash::Done(_))) = (&mut notice, &outcome.flash) {
        notice.text.clone_from(&outcome.announce);
    }
    list.announce = match &notice {
        Some(Notice { text, undo: Some(_), .. }) => format!("{text} Undo is available."),
        Some(notice) => notice.text.clone(),
        None => outcome.announce,
    };
    request.layout.flash = notice;
    Ok(ListFragment { layout: request.layout, list }.into_response())
}

/// The task whose subtasks `view` shows: `Some(None)` when it shows no
/// task's, `None` when that is no live task of the owner's in the list
/// viewed (another user's task: the same).
async fn parent_of(db: UserDb<'_>, view: &ListState) -> Result<Option<Option<Task>>, AppError> {
    let Some(id) = view.parent else { return Ok(Some(None)) };
    let task = tasks::get(db, id).await?;
    Ok(task.filter(|task| view.list.is_none_or(|list| list == task.list_id)).map(Some))
}

/// Swap a fragment in place of `target` rather than where the request aimed.
fn retarget(status: StatusCode, fragment: impl IntoResponse, target: &str) -> Response {
    let mut response = (status, fragment).into_response();
    if let Ok(value) = target.parse() {
        response.headers_mut().insert("hx-retarget", value);
        response.headers_mut().insert("hx-reswap", HeaderValue::from_static("outerHTML"));
    }
    response
}

/// The task list: its session is checked by the statement that reads it
/// (see `tasks::list_checked`).
pub async fn index(request: ClaimedRequest, params: ListParams) -> Result<Response, AppError> {
    show(request, ListState::from_params(params)).await
}

/// Today (`/today`): due today or overdue, across lists.
pub async fn today_page(request: ClaimedRequest, params: ListParams) -> Result<Response, AppError> {
    let params = ListParams { view: Some(View::Today.as_str().into()), ..params };
    show(request, ListState::from_params(params)).await
}

/// Upcoming (`/upcoming`): the next 14 days, grouped by day.
pub async fn upcoming_page(request: ClaimedRequest, params: ListParams) -> Result<Response, AppError> {
    let params = ListParams { view: Some(View::Upcoming.as_str().into()), ..params };
    show(request, ListState::from_params(params)).await
}

/// One list's tasks (`/lists/{id}`): the task list, kept to it.
pub async fn list_page(
    request: ClaimedRequest,
    Path(id): Path<String>,
    params: ListParams,
) -> Result<Response, AppError> {
    let view = ListState { list: Some(path_id(&id)?), ..ListState::from_params(params) };
    show(request, view).await
}

async fn show(request: ClaimedRequest, view: ListState) -> Result<Response, AppError> {
    let (mut request, page, overview) = request.list(&view.list_query(), true).await?;
    let parent = parent_of(request.db(), &view).await?.ok_or(AppError::NotFound)?;
    let mut list = list_view(view, page, overview)?;
    list.parent = parent;
    if request.htmx {
        return Ok(ListFragment { layout: request.layout, list }.into_response());
    }
    request.take_flash().await?;
    Ok(TasksPage { layout: request.layout, list, form: TaskFields::default() }.into_response())
}

pub async fn create(request: ClaimedRequest, Form(form): Form<TaskForm>) -> Result<Response, AppError> {
    let view = ListState::from_back(form.back.as_deref());
    let mut input = match form.parse() {
        Ok((input, ..)) => input,
        Err(fields) if request.htmx() => {
            let layout = request.checked().await?.layout;
            let fragment = NewFormFragment { layout, form: *fields };
            return Ok(retarget(StatusCode::UNPROCESSABLE_ENTITY, fragment, "#new-task"));
        }
        Err(fields) => {
            let (request, page, overview) = request.list(&view.list_query(), true).await?;
            let (layout, list) = (request.layout, list_view(view, page, overview)?);
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, TasksPage { layout, list, form: *fields }).into_response());
        }
    };
    // Added in Today or Upcoming without a date: due today, so it shows
    // where it was added.
    if view.view.is_some() && input.due_date.is_none() {
        input.due_date = Some(tasks::today());
    }
    // Added while filtering by labels: it carries them, for the same reason.
    if !view.labels.is_empty() {
        let names = input.labels.iter().chain(&view.labels).map(String::as_str);
        input.labels = parse_labels(names).unwrap_or_else(|_| input.labels.clone());
    }
    // Added among a task's subtasks: one of them.
    input.parent_id = view.parent;
    let quota = request.state().config.quotas.for_tasks();
    let mut created = tasks::create(request.db(), &input, view.list, quota).await?;
    if let tasks::Created::Refused(_) = created {
        // That task was deleted or made a subtask meanwhile: what was
        // typed goes into the list as a task of its own.
        input.parent_id = None;
        created = tasks::create(request.db(), &input, view.list, quota).await?;
    }
    if matches!(created, tasks::Created::NoSuchList) {
        // The list shown was deleted meanwhile (in another tab): what was
        // typed goes to the Inbox rather than being lost.
        created = tasks::create(request.db(), &input, None, quota).await?;
    }
    let task = match created {
        tasks::Created::Task(task) => task,
        tasks::Created::NoSuchList | tasks::Created::Refused(_) => return Err(AppError::NotFound),
        tasks::Created::QuotaFull => return Err(AppError::task_quota(quota.tasks)),
    };
    let outcome = Outcome::say(format!("Added {}.", quoted(&task.title)), Done::Added);
    back_to_list(request, view, outcome).await
}

pub async fn edit_page(request: UserRequest, Path(id): Path<String>, params: ListParams) -> Result<Response, AppError> {
    let id = path_id(&id)?;
    let task = tasks::get(request.db(), id).await?.ok_or(AppError::NotFound)?;
    let lists = lists::all(request.db()).await?;
    let view = ListState::from_params(params);
    let (back, cancel) = (view.back(), view.url(view.query()));
    let (layout, form) = (request.layout, TaskFields::from_task(&task));
    Ok(if request.htmx {
        // Edit is a boosted link of the list's section: its form replaces the one item, in place,
        // and is no page of its own in the history.
        let fragment = EditFragment { layout, inline: true, id, back, cancel, lists, form };
        let mut response = retarget(StatusCode::OK, fragment, &format!("#task-{id}"));
        response.headers_mut().insert("hx-push-url", HeaderValue::from_static("false"));
        response
    } else {
        EditPage { layout, inline: false, id, back, cancel, lists, form }.into_response()
    })
}

pub async fn update(
    request: ClaimedRequest,
    Path(id): Path<String>,
    Form(form): Form<TaskForm>,
) -> Result<Response, AppError> {
    let id = path_id(&id)?;
    let view = ListState::from_back(form.back.as_deref());
    let (input, completed, list_id) = match form.parse() {
        Ok(parsed) => parsed,
        Err(fields) => {
            // Someone else's task is not found, whatever the input.
            tasks::get(request.db(), id).await?.ok_or(AppError::NotFound)?;
            let lists = lists::all(request.db()).await?;
            let request = request.checked().await?;
            let (layout, back, cancel, form) = (request.layout, view.back(), view.url(view.query()), *fields);
            return Ok(if request.htmx {
                let fragment = EditFragment { layout, inline: true, id, back, cancel, lists, form };
                retarget(StatusCode::UNPROCESSABLE_ENTITY, fragment, &format!("#task-{id}"))
            } else {
                let page = EditPage { layout, inline: false, id, back, cancel, lists, form };
                (StatusCode::UNPROCESSABLE_ENTITY, page).into_response()
            });
        }
    };
    let mut patch = TaskPatch { list_id, ..TaskPatch::replace(input, completed) };
    let label_quota = request.state().config.quotas.labels_per_user;
    let mut updated = tasks::update(request.db(), id, &patch, label_quota).await?;
    if let Updated::Refused(Refusal::LeavesItsParent) = updated {
        // A subtask put in another list: a task of its own there.
        patch.parent_id = Some(None);
        updated = tasks::update(request.db(), id, &patch, label_quota).await?;
    }
    let Updated::Task(task) = updated else { return Err(AppError::NotFound) };
    let outcome = Outcome::say(format!("Saved {}.", quoted(&task.title)), Done::Saved);
    back_to_list(request, view, outcome).await
}

pub async fn toggle(
    request: ClaimedRequest,
    Path(id): Path<String>,
    Form(form): Form<BackForm>,
) -> Result<Response, AppError> {
    let id = path_id(&id)?;
    let view = ListState::from_back(form.back.as_deref());
    let task = match tasks::toggle(request.db(), id).await? {
        Toggled::Task(task) => task,
        Toggled::NotFound => return Err(AppError::NotFound),
        Toggled::HasOpenSubtasks(_) => {
            // Ask first, on a page of its own (htmx navigates there too).
            let back = view.back();
            let query = if back.is_empty() { String::new() } else { format!("?{back}") };
            let url = format!("/tasks/{id}/complete{query}");
            return Ok(navigate(request.htmx(), StatusCode::NO_CONTENT, &url));
        }
    };
    let (done, kind) = if task.completed { ("done", Done::Completed) } else { ("not done", Done::Reopened) };
    let outcome = Outcome::say(format!("Marked {} as {done}.", quoted(&task.title)), kind);
    back_to_list(request, view, outcome).await
}

#[derive(Template, WebTemplate)]
#[template(path = "tasks/complete.html")]
pub struct CompletePage {
    layout: Layout,
    task: Task,
    open: i64,
    back: String,
    cancel: String,
}

/// "Complete a task with open subtasks": what to do with them, asked
/// before anything is done (the toggle sends here).
pub async fn complete_page(
    request: UserRequest,
    Path(id): Path<String>,
    params: ListParams,
) -> Result<Response, AppError> {
    let id = path_id(&id)?;
    let task = tasks::get(request.db(), id).await?.ok_or(AppError::NotFound)?;
    let open = tasks::open_subtasks(request.db(), id).await?;
    let view = ListState::from_params(params);
    let (back, cancel) = (view.back(), view.url(view.query()));
    Ok(CompletePage { layout: request.layout, task, open, back, cancel }.into_response())
}

#[derive(Debug, Deserialize)]
pub struct CompleteForm {
    /// `complete`: its open subtasks too; `keep`: they stay open.
    subtasks: Option<String>,
    back: Option<String>,
}

pub async fn complete(
    request: ClaimedRequest,
    Path(id): Path<String>,
    Form(form): Form<CompleteForm>,
) -> Result<Response, AppError> {
    let id = path_id(&id)?;
    let with_subtasks = match form.subtasks.as_deref() {
        Some("complete") => true,
        Some("keep") => false,
        _ => return Err(AppError::BadRequest),
    };
    let task = tasks::complete(request.db(), id, with_subtasks).await?.ok_or(AppError::NotFound)?;
    let said = if with_subtasks { " and its subtasks" } else { "" };
    let outcome = Outcome::say(format!("Marked {}{said} as done.", quoted(&task.title)), Done::Completed);
    back_to_list(request, ListState::from_back(form.back.as_deref()), outcome).await
}

pub async fn delete(
    request: ClaimedRequest,
    Path(id): Path<String>,
    Form(form): Form<BackForm>,
) -> Result<Response, AppError> {
    let id = path_id(&id)?;
    let deletion = tasks::trash(request.db(), id).await?.ok_or(AppError::NotFound)?;
    back_to_list(request, ListState::from_back(form.back.as_deref()), Outcome::show(Flash::Deleted(deletion))).await
}

/// Move up, Move down, Move to top: one place in the list's manual order.
pub async fn move_task(
    request: ClaimedRequest,
    Path(id): Path<String>,
    Form(form): Form<MoveForm>,
) -> Result<Response, AppError> {
    let id = path_id(&id)?;
    let (placement, said) = match form.to.as_deref() {
        Some("up") => (Placement::Up, "up"),
        Some("down") => (Placement::Down, "down"),
        Some("top") => (Placement::Top, "to the top"),
        Some("bottom") => (Placement::Bottom, "to the bottom"),
        _ => return Err(AppError::BadRequest),
    };
    let task = match tasks::move_task(request.db(), id, placement, None).await? {
        tasks::Moved::Task(task) => task,
        _ => return Err(AppError::NotFound),
    };
    let outcome = Outcome::say(format!("Moved {} {said}.", quoted(&task.title)), Done::Moved);
    back_to_list(request, ListState::from_back(form.back.as_deref()), outcome).await
}

pub async fn toggle_all(request: ClaimedRequest, Form(form): Form<ToggleAllForm>) -> Result<Response, AppError> {
    let db = request.db();
    let view = ListState::from_back(form.back.as_deref());
    let completed = match form.completed.as_deref() {
        Some("true" | "on" | "1") => true,
        Some("false" | "off" | "0") => false,
        _ => match view.list {
            Some(id) => lists::get(db, id).await?.is_some_and(|list| list.open_count > 0),
            None => tasks::counts(db).await?.active > 0,
        },
    };
    let changed = tasks::set_all_completed(db, view.list, completed).await?;
    let done = if completed { "done" } else { "not done" };
    let outcome = match changed {
        0 => Outcome::say("Nothing to change.".into(), Done::NothingToChange),
        1 => Outcome::say(format!("Marked 1 task as {done}."), Done::MarkedAll),
        n => Outcome::say(format!("Marked {n} tasks as {done}."), Done::MarkedAll),
    };
    back_to_list(request, view, outcome).await
}

pub async fn clear_completed(request: ClaimedRequest, Form(form): Form<BackForm>) -> Result<Response, AppError> {
    let view = ListState::from_back(form.back.as_deref());
    let deletion = tasks::clear_completed(request.db(), view.list).await?;
    let outcome = if deletion.count == 0 {
        Outcome::say("There are no completed tasks to clear.".into(), Done::NothingToClear)
    } else {
        Outcome::show(Flash::Deleted(deletion))
    };
    back_to_list(request, view, outcome).await
}

pub async fn undo(request: ClaimedRequest, Form(form): Form<UndoForm>) -> Result<Response, AppError> {
    // A malformed id names nothing: the same answer as one that is too old.
    let restored = match form.batch.as_deref().and_then(|b| Uuid::parse_str(b).ok()) {
        Some(batch) => {
            let quota = request.state().config.quotas.tasks_per_user;
            tasks::restore(request.db(), batch, quota).await?.ok_or(AppError::task_quota(quota))?
        }
        None => Vec::new(),
    };
    let flash = match restored.len() {
        0 => Flash::TooLate,
        count => {
            let title = if count == 1 { restored.into_iter().next() } else { None };
            Flash::Restored { count: count as i64, title }
        }
    };
    back_to_list(request, ListState::from_back(form.back.as_deref()), Outcome::show(flash)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn due_dates_read_relative_to_today() {
        let today = date!(2026 - 11 - 22);
        assert_eq!(Due::new(date!(2026 - 11 - 23), today, false).label, "due tomorrow");
        let overdue = Due::new(date!(2026 - 11 - 19), today, false);
        assert_eq!(overdue.label, "3 days overdue");
        assert!(overdue.overdue);
        assert!(!Due::new(date!(2026 - 11 - 19), today, true).overdue, "done tasks are not overdue");
    }

    #[test]
    fn list_views_survive_a_round_trip_through_back() {
        let view = ListState::from_back(Some("status=active&q=milk+%26+eggs&page=3&after=40"));
        assert_eq!(view.query(), "status=active&q=milk+%26+eggs&page=3&after=40");
        assert_eq!(ListState::from_back(Some("status=bogus&page=-2")).query(), "");
    }
}
