//! Tasks. Every statement is scoped by `user_id` and runs [`as_user!`] (so on
//! PostgreSQL row-level security scopes it too): a task id that belongs to
//! someone else behaves exactly like one that does not exist.
//!
//! Deleting from the pages is undoable: [`trash`] and [`clear_completed`]
//! only mark tasks deleted (`deleted_at`), every other query sees live tasks
//! only, [`restore`] brings a deletion back within [`UNDO_WINDOW`], and
//! marked tasks older than that are purged at the owner's next deletion.

use sqlx::{FromRow, Row};
use time::{Date, Duration, OffsetDateTime};
use uuid::Uuid;

use super::{
    DbError, DbResult, UserDb, as_user, fold,
    labels::{self, LabelSummary},
    lists::{self, ListSummary},
    now,
    sessions::SessionUser,
};

/// How long a deletion can be undone.
pub const UNDO_WINDOW: Duration = Duration::seconds(30);

#[derive(Clone, Debug, FromRow, PartialEq)]
pub struct Task {
    pub id: i64,
    pub list_id: i64,
    pub title: String,
    pub description: Option<String>,
    pub completed: bool,
    pub completed_at: Option<OffsetDateTime>,
    pub due_date: Option<Date>,
    /// None, or 1 (the highest) to 4.
    pub priority: Option<i32>,
    /// Its place in its list's manual order (ascending).
    pub position: f64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// Its labels' names, by name.
    #[sqlx(json)]
    pub labels: Vec<String>,
    /// The task it is a subtask of (one level: that task has none).
    pub parent_id: Option<i64>,
    /// Read for pages only ([`PAGE_EXTRAS`]): its live subtasks, and how
    /// many of them are done.
    #[sqlx(default)]
    pub subtasks: i64,
    #[sqlx(default)]
    pub subtasks_done: i64,
    /// Read for pages only: its parent's title.
    #[sqlx(default)]
    pub parent_title: Option<String>,
}

impl Task {
    /// The task's fields as the edit form starts from them.
    pub fn draft(&self) -> crate::domain::TaskDraft {
        crate::domain::TaskDraft {
            title: self.title.clone(),
            description: self.description.clone().unwrap_or_default(),
            due_date: self.due_date.map(|d| d.to_string()).unwrap_or_default(),
            priority: self.priority.map(|p| p.to_string()).unwrap_or_default(),
            labels: self.labels.join(", "),
        }
    }
}

/// What a [`Task`] is read from (`labels`: its label names, kept on the
/// task by `db::labels`, decision 0019).
const COLUMNS: &str = "id, list_id, title, description, completed, completed_at, due_date, priority, position, created_at, updated_at, labels, parent_id";

/// What a page shows of a task beside its [`COLUMNS`] (a subquery each,
/// answered from `tasks_by_parent` and the primary key): its subtasks'
/// progress, "2/5", and its parent's title.
const PAGE_EXTRAS: &str = ", (SELECT count(*) FROM tasks s WHERE s.user_id = tasks.user_id AND s.parent_id = tasks.id AND s.deleted_at IS NULL) AS subtasks,
    (SELECT count(*) FROM tasks s WHERE s.user_id = tasks.user_id AND s.parent_id = tasks.id AND s.deleted_at IS NULL AND s.completed) AS subtasks_done,
    (SELECT p.title FROM tasks p WHERE p.user_id = tasks.user_id AND p.id = tasks.parent_id) AS parent_title";

// The checked input types live with their parsers.
pub use crate::domain::{StatusFilter, TaskInput, TaskPatch};

/// The order of a list: `newest` first (by id), or by a key and then
/// newest first within it: `priority` (1 first, none last), `due` (soonest
/// first, undated last), `manual` (the list's own order, [`move_task`]).
/// Every order pages by keyset ([`Cursor`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Sort {
    #[default]
    Newest,
    Priority,
    Due,
    Manual,
}

/// What `due` puts undated tasks under: after every date.
const NO_DAY: Date = time::macros::date!(9999 - 12 - 31);
/// What `priority` puts tasks without one under: after 4.
const NO_PRIORITY: i32 = 5;

impl Sort {
    /// The name in URLs and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Newest => "newest",
            Sort::Priority => "priority",
            Sort::Due => "due",
            Sort::Manual => "manual",
        }
    }

    pub fn parse(raw: &str) -> Option<Sort> {
        [Sort::Newest, Sort::Priority, Sort::Due, Sort::Manual].into_iter().find(|s| s.as_str() == raw.trim())
    }

    /// The key this order sorts by before the id, over columns named with
    /// `prefix`. Written exactly as the indexes say it (migrations 0014 on
    /// PostgreSQL, 0011 on SQLite).
    fn key_sql(self, postgres: bool, prefix: &str) -> Option<String> {
        match self {
            Sort::Newest => None,
            Sort::Priority => Some(format!("coalesce({prefix}priority, 5)")),
            Sort::Due if postgres => Some(format!("coalesce({prefix}due_date, DATE '9999-12-31')")),
            Sort::Due => Some(format!("coalesce({prefix}due_date, '9999-12-31')")),
            Sort::Manual => Some(format!("{prefix}position")),
        }
    }

    /// `ORDER BY` for reading forward (the list's order) or backward.
    fn order_sql(self, postgres: bool, prefix: &str, forward: bool) -> String {
        let (key, id) = if forward { ("ASC", "DESC") } else { ("DESC", "ASC") };
        match self.key_sql(postgres, prefix) {
            None => format!(" ORDER BY {prefix}id {id}"),
            Some(expr) => format!(" ORDER BY {expr} {key}, {prefix}id {id}"),
        }
    }

    /// Where `task` sits in this order: the cursor of the page after it.
    pub fn cursor_of(self, task: &Task) -> Cursor {
        let key = match self {
            Sort::Newest => Key::Id,
            Sort::Priority => Key::Number(task.priority.unwrap_or(NO_PRIORITY)),
            Sort::Due => Key::Day(task.due_date.unwrap_or(NO_DAY)),
            Sort::Manual => Key::Position(task.position.to_bits()),
        };
        Cursor { id: task.id, key }
    }

    /// A cursor as [`Cursor`]'s `Display` wrote it for this order.
    pub fn parse_cursor(self, raw: &str) -> Option<Cursor> {
        let (key, id) = match self {
            Sort::Newest => (Key::Id, raw),
            _ => {
                let (key, id) = raw.rsplit_once('_')?;
                let key = match self {
                    Sort::Priority => Key::Number(key.parse().ok().filter(|p| (1..=NO_PRIORITY).contains(p))?),
                    Sort::Manual => Key::Position(key.parse::<f64>().ok().filter(|p| p.is_finite())?.to_bits()),
                    _ => Key::Day(Date::parse(key, time::macros::format_description!("[year]-[month]-[day]")).ok()?),
                };
                (key, id)
            }
        };
        let id = crate::domain::parse_id(id)?;
        Some(Cursor { id, key })
    }
}

/// The date views (PRODUCT.md §7): what is due by `today` (overdue
/// included), or in the 14 days from `today`. Dates are UTC until time
/// zones come (§8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    Today,
    Upcoming,
}

/// How many days Upcoming shows, today included.
pub const UPCOMING_DAYS: i64 = 14;

impl View {
    pub fn as_str(self) -> &'static str {
        match self {
            View::Today => "today",
            View::Upcoming => "upcoming",
        }
    }

    pub fn parse(raw: &str) -> Option<View> {
        [View::Today, View::Upcoming].into_iter().find(|v| v.as_str() == raw.trim())
    }

    /// The due dates it shows, from (if bounded below) and to, inclusive.
    fn days(self, today: Date) -> (Option<Date>, Date) {
        match self {
            View::Today => (None, today),
            View::Upcoming => (Some(today), today + Duration::days(UPCOMING_DAYS - 1)),
        }
    }
}

/// Today, in UTC: what the date views and due labels measure from.
pub fn today() -> Date {
    OffsetDateTime::now_utc().date()
}

/// A place in a list's order: a task's sort key and id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub id: i64,
    key: Key,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Key {
    /// `newest`: the id alone.
    Id,
    Number(i32),
    Day(Date),
    /// `manual`: a position, as its bits (so that a cursor compares exactly).
    Position(u64),
}

/// `123` (newest), `2_123` (priority), `2026-12-31_123` (due), `-4.5_123`
/// (manual: Rust writes a float exactly as it parses back).
impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.key {
            Key::Id => write!(f, "{}", self.id),
            Key::Number(n) => write!(f, "{n}_{}", self.id),
            Key::Day(day) => write!(f, "{day}_{}", self.id),
            Key::Position(bits) => write!(f, "{}_{}", f64::from_bits(bits), self.id),
        }
    }
}

/// Where a page of the list starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Position {
    /// Skip this many tasks from the top: for a page number typed in a URL.
    Offset(i64),
    /// Tasks after this place in the order (the next page).
    After(Cursor),
    /// Tasks before it (the previous page).
    Before(Cursor),
}

#[derive(Clone, Debug)]
pub struct ListQuery<'a> {
    pub sort: Sort,
    /// Only the tasks a date view shows, measured from the given day.
    pub view: Option<(View, Date)>,
    /// Only this list's tasks (another user's list: none).
    pub list: Option<i64>,
    /// Only tasks of this priority (`Some(None)`: those without one).
    pub priority: Option<Option<i32>>,
    /// Only tasks that carry every one of these labels (names, in any case).
    pub labels: &'a [String],
    /// Subtasks, top-level tasks or both.
    pub parent: ParentFilter,
    pub status: StatusFilter,
    pub search: Option<&'a str>,
    pub position: Position,
    pub limit: i64,
}

/// Which tasks a list shows by their parent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ParentFilter {
    /// Tasks and subtasks alike.
    #[default]
    Any,
    /// Only tasks that are not subtasks.
    TopLevel,
    /// Only the subtasks of this task of the owner's.
    Of(i64),
}

#[derive(Debug, Default)]
pub struct TaskPage {
    /// Newest first.
    pub tasks: Vec<Task>,
    pub has_newer: bool,
    pub has_older: bool,
}

/// What a page shows beside its tasks: the counts and the navigation's lists.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overview {
    pub counts: Counts,
    /// Open tasks in Today and in Upcoming.
    pub today: i64,
    pub upcoming: i64,
    /// In `lists::ORDER`, each with its open tasks.
    pub lists: Vec<ListSummary>,
    /// By name.
    pub labels: Vec<LabelSummary>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub active: i64,
    pub completed: i64,
}

impl Counts {
    /// From the owner's `task_counts` row; a user who never had a task has none.
    fn from_row(row: Option<(i64, i64)>) -> Self {
        row.map_or_else(Counts::default, |(active, completed)| Counts { active, completed })
    }
}

/// Escapes LIKE wildcards so a search for `50%` means those characters.
fn like_pattern(search: &str) -> String {
    let mut pattern = String::with_capacity(search.len() + 2);
    pattern.push('%');
    // Stored text has no control characters, and PostgreSQL refuses NUL.
    for c in fold(search).chars().filter(|c| !c.is_control()) {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Pushes the asking user's row: through `$session` when given (the
/// session check: `sessions::IS_LIVE`'s rule), else the account row.
macro_rules! push_me {
    ($q:ident, $db:expr, $session:expr) => {
        match $session {
            Some(session) => {
                $q.push("SELECT u.email, u.name FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ");
                $q.push_bind(session).push(" AND s.user_id = ").push_bind($db.owner());
                $q.push(" AND s.revoked_at IS NULL AND s.expires_at > ").push_bind(now()).push(" AND u.is_active");
            }
            None => {
                $q.push("SELECT u.email, u.name FROM users u WHERE u.id = ").push_bind($db.owner());
            }
        }
    };
}

/// Pushes the tasks `$query` asks for, in `$order`, from `$columns`; the
/// caller says how many (`LIMIT`).
macro_rules! push_tasks {
    ($q:ident, $db:expr, $query:expr, $pattern:expr, $columns:expr, $order:expr) => {
        $q.push("SELECT ").push($columns).push(" FROM tasks WHERE user_id = ");
        $q.push_bind($db.owner()).push(" AND deleted_at IS NULL");
        if let Some(list) = $query.list {
            $q.push(" AND list_id = ").push_bind(list);
        }
        if let Some((view, today)) = $query.view {
            // On the column itself, for `tasks_due_live`: under row-level
            // security PostgreSQL will not take `coalesce(…)` to an index
            // (it is not leakproof), and read every task of the owner.
            let (from, to) = view.days(today);
            $q.push(" AND due_date <= ").push_bind(to);
            if let Some(from) = from {
                $q.push(" AND due_date >= ").push_bind(from);
            }
        }
        for label in $query.labels {
            // The label's tasks, from `task_labels_by_label`: a page costs
            // the label's size at most, however many newer tasks lack it
            // (an EXISTS per task would read every one of those first).
            $q.push(" AND id IN (SELECT tl.task_id FROM task_labels tl WHERE tl.label_id = ");
            $q.push("(SELECT id FROM labels WHERE user_id = ").push_bind($db.owner());
            $q.push(" AND name_folded = ").push_bind(fold(label)).push("))");
        }
        match $query.parent {
            ParentFilter::Any => {}
            ParentFilter::TopLevel => {
                $q.push(" AND parent_id IS NULL");
            }
            ParentFilter::Of(parent) => {
                $q.push(" AND parent_id = ").push_bind(parent);
            }
        }
        match $query.priority {
            None => {}
            Some(None) => {
                $q.push(" AND priority IS NULL");
            }
            Some(Some(priority)) => {
                $q.push(" AND priority = ").push_bind(priority);
            }
        }
        if $query.status != StatusFilter::All {
            $q.push(" AND completed = ").push_bind($query.status == StatusFilter::Completed);
        }
        if let Some(pattern) = &$pattern {
            $q.push(" AND (title_folded LIKE ").push_bind(pattern.clone());
            $q.push(" ESCAPE '\\' OR description_folded LIKE ").push_bind(pattern.clone()).push(" ESCAPE '\\')");
        }
        let (cursor, after) = match $query.position {
            Position::Offset(_) => (None, true),
            Position::After(cursor) => (Some(cursor), true),
            Position::Before(cursor) => (Some(cursor), false),
        };
        if let Some(cursor) = cursor {
            let (beyond, id) = if after { (" > ", " AND id < ") } else { (" < ", " AND id > ") };
            match ($query.sort.key_sql($db.is_postgres(), ""), cursor.key) {
                (Some(expr), Key::Number(n)) => {
                    $q.push(" AND (").push(&expr).push(beyond).push_bind(n);
                    $q.push(" OR (").push(&expr).push(" = ").push_bind(n).push(id).push_bind(cursor.id).push("))");
                }
                (Some(expr), Key::Day(day)) => {
                    $q.push(" AND (").push(&expr).push(beyond).push_bind(day);
                    $q.push(" OR (").push(&expr).push(" = ").push_bind(day).push(id).push_bind(cursor.id).push("))");
                }
                (Some(expr), Key::Position(bits)) => {
                    let position = f64::from_bits(bits);
                    $q.push(" AND (").push(&expr).push(beyond).push_bind(position);
                    $q.push(" OR (").push(&expr).push(" = ").push_bind(position).push(id).push_bind(cursor.id);
                    $q.push("))");
                }
                _ => {
                    $q.push(id).push_bind(cursor.id);
                }
            }
        }
        $q.push($order);
    };
}

/// One page of the owner's tasks, by keyset on `id` (offset only for a bare
/// page number). Fetches one row more than asked to learn whether more exist.
pub async fn list(db: UserDb<'_>, query: &ListQuery<'_>) -> DbResult<TaskPage> {
    Ok(list_checked(db, query, false).await?.1)
}

/// Pushes the owner's lists and labels as JSON (`lists::summaries_json`,
/// `labels::summaries_json`), then the open tasks of Today and of Upcoming.
macro_rules! push_lists {
    ($q:ident, $db:expr, $once:expr) => {
        // `$once` (PostgreSQL, a row per task): the lists and labels on one
        // row only, not copied onto each of the page's 51 (some 400 KB).
        let (open, close) = if $once { ("CASE WHEN row_number() OVER () = 1 THEN ", " END") } else { ("", "") };
        $q.push(open).push(lists::summaries_json($db.is_postgres())).push_bind($db.owner());
        $q.push(")").push(close).push(" AS me_lists, ");
        $q.push(open).push(labels::summaries_json($db.is_postgres())).push_bind($db.owner());
        $q.push(")").push(close).push(" AS me_labels, ");
        for view in [View::Today, View::Upcoming] {
            // As the views read them (`push_tasks!`), from `tasks_due_live`.
            let (from, to) = view.days(today());
            $q.push("(SELECT count(*) FROM tasks WHERE user_id = ").push_bind($db.owner());
            $q.push(" AND deleted_at IS NULL AND NOT completed AND due_date <= ").push_bind(to);
            if let Some(from) = from {
                $q.push(" AND due_date >= ").push_bind(from);
            }
            $q.push(if view == View::Today { ") AS me_today, " } else { ") AS me_upcoming" });
        }
    };
}

/// Reads the navigation's lists or labels from the JSON [`push_lists!`] wrote.
fn parse_json<T: serde::de::DeserializeOwned>(json: Option<&str>) -> DbResult<Vec<T>> {
    let broken = |err: serde_json::Error| DbError::Other(sqlx::Error::Decode(err.into()));
    json.map_or(Ok(Vec::new()), |json| serde_json::from_str(json).map_err(broken))
}

/// [`list`] (and, `with_overview`, the page's [`Overview`]) with the user they belong to,
/// in one statement: the user's row (for a [`UserDb::for_session`], through
/// its session, which makes this statement the session check:
/// `sessions::live_user`'s rule) and counts, left-joined with the page, so
/// that no user means no rows ([`DbError::SessionEnded`]: nothing is read),
/// and a user without tasks one row of NULL task columns. On PostgreSQL a
/// task page waits on two round trips (`BEGIN READ ONLY` with the
/// row-level security settings, this statement; the `ROLLBACK` goes with
/// the pool's ping, decision record 0025); on SQLite one visit to the
/// connection's thread.
pub async fn list_checked(
    db: UserDb<'_>,
    query: &ListQuery<'_>,
    with_overview: bool,
) -> DbResult<(SessionUser, TaskPage, Overview)> {
    if !db.is_postgres() {
        let page = sqlite_page(db, query, with_overview).await?;
        let tasks = page.tasks()?;
        return Ok((page.user, task_page(tasks, page.more, query.position), page.overview));
    }
    let session = db.session();
    let forward = !matches!(query.position, Position::Before(_));
    // The subquery's order does not survive the join: it is said again.
    let order = query.sort.order_sql(true, "", forward);
    let outer_order = query.sort.order_sql(true, "t.", forward);
    let pattern = query.search.map(like_pattern);
    let columns = if with_overview { format!("{COLUMNS}{PAGE_EXTRAS}") } else { COLUMNS.to_owned() };
    // The statement checks the session itself.
    let rows = as_user!(db.unchecked(), conn => {
        let mut q = sqlx::QueryBuilder::new("SELECT me.email AS me_email, me.name AS me_name, ");
        if with_overview {
            q.push("c.active AS me_active, c.completed AS me_completed, ");
            push_lists!(q, db, true);
            q.push(", ");
        }
        q.push("t.* FROM (");
        push_me!(q, db, session);
        q.push(") AS me");
        if with_overview {
            q.push(" LEFT JOIN task_counts c ON c.user_id = ").push_bind(db.owner());
        }
        q.push(" LEFT JOIN (");
        // One row more than asked: whether more follow.
        push_tasks!(q, db, query, pattern, &columns, &order);
        q.push(" LIMIT ").push_bind(query.limit + 1);
        if let Position::Offset(offset) = query.position {
            q.push(" OFFSET ").push_bind(offset);
        }
        q.push(") AS t ON 1 = 1").push(&outer_order);
        let rows = q.build().fetch_all(&mut *conn).await?;
        // Read here, where the rows' type is the backend's.
        match rows.first() {
            None => None,
            Some(first) => {
                let user = SessionUser {
                    user_id: db.owner(),
                    email: first.try_get("me_email")?,
                    name: first.try_get("me_name")?,
                };
                let overview = if with_overview {
                    // The one row that carries the lists and labels.
                    let mut carrier = first;
                    for row in &rows {
                        if row.try_get::<Option<&str>, _>("me_lists")?.is_some() {
                            carrier = row;
                            break;
                        }
                    }
                    Overview {
                        counts: Counts::from_row(
                            first.try_get::<Option<i64>, _>("me_active")?.zip(first.try_get("me_completed")?),
                        ),
                        lists: parse_json(carrier.try_get::<Option<&str>, _>("me_lists")?)?,
                        labels: parse_json(carrier.try_get::<Option<&str>, _>("me_labels")?)?,
                        today: first.try_get("me_today")?,
                        upcoming: first.try_get("me_upcoming")?,
                    }
                } else {
                    Overview::default()
                };
                let mut tasks = Vec::with_capacity(rows.len());
                for row in &rows {
                    if row.try_get::<Option<i64>, _>("id")?.is_some() {
                        tasks.push(Task::from_row(row)?);
                    }
                }
                Some((user, overview, tasks))
            }
        }
    });
    let Some((user, overview, mut tasks)) = rows else { return Err(DbError::SessionEnded) };

    let more = tasks.len() as i64 > query.limit;
    tasks.truncate(query.limit as usize);
    Ok((user, task_page(tasks, more, query.position), overview))
}

/// A page from its tasks in the order read (`Before`: oldest first) and
/// whether more follow in that direction.
fn task_page(mut tasks: Vec<Task>, more: bool, position: Position) -> TaskPage {
    match position {
        Position::Offset(offset) => TaskPage { tasks, has_newer: offset > 0, has_older: more },
        Position::After(_) => TaskPage { tasks, has_newer: true, has_older: more },
        Position::Before(_) => {
            tasks.reverse();
            TaskPage { tasks, has_newer: more, has_older: true }
        }
    }
}

/// A page as SQLite writes it (see [`sqlite_page`]).
struct SqlitePage {
    user: SessionUser,
    overview: Overview,
    /// The page's tasks as a JSON array of `api::tasks::TaskJson`, in the order read.
    items: String,
    /// The smallest id on the page.
    last: Option<i64>,
    /// More tasks follow in the order read.
    more: bool,
}

/// A task in [`SqlitePage::items`]. Timestamps and dates hold no character
/// JSON escapes, so they are borrowed from the text.
#[derive(serde::Deserialize)]
struct JsonTask<'a> {
    id: i64,
    list_id: i64,
    title: String,
    description: Option<String>,
    completed: bool,
    completed_at: Option<&'a str>,
    due_date: Option<&'a str>,
    priority: Option<i32>,
    position: f64,
    created_at: &'a str,
    updated_at: &'a str,
    labels: Vec<String>,
    parent_id: Option<i64>,
    #[serde(default)]
    subtasks: i64,
    #[serde(default)]
    subtasks_done: i64,
    #[serde(default)]
    parent_title: Option<String>,
}

impl SqlitePage {
    fn tasks(&self) -> DbResult<Vec<Task>> {
        use time::format_description::well_known::Rfc3339;
        let broken = |err: Box<dyn std::error::Error + Send + Sync>| DbError::Other(sqlx::Error::Decode(err));
        let at = |text: &str| OffsetDateTime::parse(text, &Rfc3339).map_err(|err| broken(err.into()));
        let day = time::macros::format_description!("[year]-[month]-[day]");
        let rows: Vec<JsonTask> = serde_json::from_str(&self.items).map_err(|err| broken(err.into()))?;
        rows.into_iter()
            .map(|row| {
                Ok(Task {
                    id: row.id,
                    list_id: row.list_id,
                    completed_at: row.completed_at.map(at).transpose()?,
                    due_date: row
                        .due_date
                        .map(|d| Date::parse(d, day).map_err(|err| broken(err.into())))
                        .transpose()?,
                    created_at: at(row.created_at)?,
                    updated_at: at(row.updated_at)?,
                    title: row.title,
                    description: row.description,
                    completed: row.completed,
                    priority: row.priority,
                    position: row.position,
                    labels: row.labels,
                    parent_id: row.parent_id,
                    subtasks: row.subtasks,
                    subtasks_done: row.subtasks_done,
                    parent_title: row.parent_title,
                })
            })
            .collect()
    }
}

/// On SQLite, the page of [`list_checked`] in one row, with SQLite writing
/// the tasks as JSON: one row for the whole page instead of one per task
/// (each of which is a message from the connection's thread, decoded here).
/// SQLite keeps timestamps as the RFC 3339 text the API shows (sqlx writes
/// them with the same formatter as `api::rfc3339`) and dates as
/// `YYYY-MM-DD`, so the JSON is the API's own ([`list_json`] sends it as it
/// is; a test compares every field with the one-task endpoint). The user's
/// row comes first (`CROSS JOIN` keeps that order), so a dead session reads
/// no task: [`DbError::SessionEnded`].
async fn sqlite_page(db: UserDb<'_>, query: &ListQuery<'_>, with_overview: bool) -> DbResult<SqlitePage> {
    let session = db.session();
    let pattern = query.search.map(like_pattern);
    let (forward, offset) = match query.position {
        Position::Offset(offset) => (true, offset),
        Position::After(_) => (true, 0),
        Position::Before(_) => (false, 0),
    };
    let order = query.sort.order_sql(false, "", forward);
    type Row = (
        String,
        Option<String>,
        Option<i64>,
        Option<i64>,
        Option<String>,
        Option<String>,
        Option<i64>,
        Option<i64>,
        String,
        Option<i64>,
        bool,
    );
    let row: Option<Row> = as_user!(db.unchecked(), conn => {
        let mut q = sqlx::QueryBuilder::new("SELECT me.email, me.name, ");
        if with_overview {
            q.push("c.active, c.completed, ");
            push_lists!(q, db, false);
        } else {
            q.push("NULL, NULL, NULL, NULL, NULL, NULL");
        }
        q.push(", page.items, page.last, EXISTS (");
        push_tasks!(q, db, query, pattern, "1", &order);
        q.push(" LIMIT 1 OFFSET ").push_bind(offset + query.limit);
        q.push(") FROM (");
        push_me!(q, db, session);
        q.push(") AS me");
        if with_overview {
            q.push(" LEFT JOIN task_counts c ON c.user_id = ").push_bind(db.owner());
        }
        q.push(
            " CROSS JOIN (SELECT json_group_array(json_object(
                 'id', id, 'list_id', list_id, 'title', title, 'description', description,
                 'completed', json(CASE WHEN completed THEN 'true' ELSE 'false' END),
                 'completed_at', completed_at, 'due_date', due_date, 'priority', priority, 'position', position,
                 'created_at', created_at, 'updated_at', updated_at, 'labels', json(labels), 'parent_id', parent_id",
        );
        // The page's extras, which the API's JSON does not carry.
        let columns = if with_overview {
            q.push(", 'subtasks', subtasks, 'subtasks_done', subtasks_done, 'parent_title', parent_title");
            format!("{COLUMNS}{PAGE_EXTRAS}")
        } else {
            COLUMNS.to_owned()
        };
        // No ORDER BY in the aggregate: SQLite feeds it the subquery's rows
        // as the subquery orders them (its LIMIT keeps that order, and keeps
        // the subquery from being merged into this one), and sorting them a
        // second time cost the API list some 15%. The ordering tests
        // (`priority::every_sort_pages_*`, `order::*`, the cursor pages) read
        // every sort through here.
        q.push(")) AS items, min(id) AS last FROM (");
        push_tasks!(q, db, query, pattern, &columns, &order);
        q.push(" LIMIT ").push_bind(query.limit).push(" OFFSET ").push_bind(offset);
        q.push(")) AS page");
        q.build_query_as().fetch_optional(&mut *conn).await?
    });
    let (email, name, active, completed, lists, labels, today, upcoming, items, last, more) =
        row.ok_or(DbError::SessionEnded)?;
    let user = SessionUser { user_id: db.owner(), email, name };
    let overview = Overview {
        counts: Counts::from_row(active.zip(completed)),
        lists: parse_json(lists.as_deref())?,
        labels: parse_json(labels.as_deref())?,
        today: today.unwrap_or_default(),
        upcoming: upcoming.unwrap_or_default(),
    };
    Ok(SqlitePage { user, overview, items, last, more })
}

/// A page of tasks as the JSON API shows them (`api::tasks::TaskJson`), its
/// items already JSON text.
#[derive(Debug)]
pub struct JsonPage {
    /// A JSON array of the page's tasks, newest first.
    pub items: String,
    /// The last item's id, when more tasks follow.
    pub next_cursor: Option<i64>,
}

/// On SQLite, [`list`] for the JSON API, its items the JSON SQLite wrote
/// ([`sqlite_page`]), sent on as they are. `None` on PostgreSQL, for an
/// order other than newest first (whose cursor is not the smallest id), and
/// for a page before a cursor (which the API never asks for): the caller
/// takes [`list`].
pub async fn list_json(db: UserDb<'_>, query: &ListQuery<'_>) -> DbResult<Option<JsonPage>> {
    if db.is_postgres() || query.sort != Sort::Newest || matches!(query.position, Position::Before(_)) {
        return Ok(None);
    }
    let page = sqlite_page(db, query, false).await?;
    Ok(Some(JsonPage { items: page.items, next_cursor: page.last.filter(|_| page.more) }))
}

/// The owner's (`$1`) counts row.
const COUNTS: &str = "SELECT active, completed FROM task_counts WHERE user_id = $1";

/// The owner's live tasks, active and completed: one row that triggers keep
/// exact as tasks change (migration 0007 on SQLite, 0008 on PostgreSQL).
pub async fn counts(db: UserDb<'_>) -> DbResult<Counts> {
    let row: Option<(i64, i64)> = as_user!(db, conn => {
        sqlx::query_as(COUNTS)
            .bind(db.owner())
            .fetch_optional(&mut *conn)
            .await?
    });
    Ok(Counts::from_row(row))
}

/// Where a new task goes in list `l` of the owner `$1`: above its top.
const TOP_OF_LIST: &str = "(SELECT coalesce(min(sibling.position), 0) - 1 FROM tasks sibling WHERE sibling.user_id = $1 AND sibling.list_id = l.id)";

/// How many live tasks the owner (`$1`) holds, from the counts row.
const LIVE_TASKS: &str = "coalesce((SELECT active + completed FROM task_counts WHERE user_id = $1), 0)";

pub async fn get(db: UserDb<'_>, id: i64) -> DbResult<Option<Task>> {
    let sql = format!("SELECT {COLUMNS} FROM tasks WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL");
    let task = as_user!(db, conn => {
        sqlx::query_as::<_, Task>(&sql).bind(id).bind(db.owner()).fetch_optional(&mut *conn).await?
    });
    Ok(task)
}

/// What became of a create.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // One a request, moved once: a box would only add an allocation.
pub enum Created {
    Task(Task),
    /// The owner holds `quota` live tasks already.
    QuotaFull,
    /// No such list of the owner's.
    NoSuchList,
    /// The parent named cannot take it (nothing was written).
    Refused(Refusal),
}

/// Why a task cannot be (or become) the subtask asked for: one level of
/// subtasks, each in its parent's list (PRODUCT.md §7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No live task of the owner's has that id (another user's: the same).
    NoSuchParent,
    ParentIsSelf,
    /// The parent is a subtask itself.
    ParentIsSubtask,
    /// The task has subtasks of its own.
    HasSubtasks,
    /// The list named is not the parent's.
    ParentInAnotherList,
    /// A subtask moved out of its parent's list (`parent_id: null` frees it first).
    LeavesItsParent,
}

impl Refusal {
    /// The field to blame, and what to say.
    pub fn field(self) -> (&'static str, &'static str) {
        match self {
            Refusal::NoSuchParent => ("parent_id", "Use the id of one of your tasks."),
            Refusal::ParentIsSelf => ("parent_id", "A task cannot be its own subtask."),
            Refusal::ParentIsSubtask => ("parent_id", "That task is a subtask itself: subtasks go one level deep."),
            Refusal::HasSubtasks => ("parent_id", "This task has subtasks of its own: subtasks go one level deep."),
            Refusal::ParentInAnotherList => ("list_id", "A subtask is in its parent's list."),
            Refusal::LeavesItsParent => {
                ("list_id", "A subtask stays in its parent's list; set parent_id to null first.")
            }
        }
    }
}

/// Quotas a write checks.
#[derive(Clone, Copy, Debug)]
pub struct Quotas {
    pub tasks: i64,
    pub labels: i64,
}

/// PostgreSQL: what an owner's writes to the shape of their tasks queue on
/// (a task given a parent, a task moved to another list), so that two of
/// them cannot each check a tree the other is changing: one making B a
/// subtask of A while another makes A a subtask of C would end two deep.
/// Taken before the label lock. SQLite runs one writer at a time anyway.
pub(super) const TREE_LOCK: &str = "SELECT pg_advisory_xact_lock(hashtextextended($1::text, 7036))";

/// Takes [`TREE_LOCK`] on `$conn` (PostgreSQL; SQLite has one writer). Every
/// write that changes several of an owner's tasks at once takes it too
/// (delete, clear, undo, complete, mark all): so none of them sees a tree
/// that a reshape is changing, and none locks a parent's and its subtasks'
/// rows in another order than a reshape (a deadlock).
macro_rules! tree_lock {
    ($conn:ident, $db:expr) => {
        if $db.is_postgres() {
            sqlx::query(TREE_LOCK).bind($db.owner()).execute(&mut *$conn).await?;
        }
    };
}

/// (list, parent) of the owner's live task `$task`, on `$conn`.
macro_rules! place_in_tree {
    ($conn:ident, $db:expr, $task:expr) => {
        sqlx::query_as::<_, (i64, Option<i64>)>(
            "SELECT list_id, parent_id FROM tasks WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL",
        )
        .bind($task)
        .bind($db.owner())
        .fetch_optional(&mut *$conn)
        .await?
    };
}

/// Where a task with parent `parent` may go: the parent's list, unless
/// `list` names another. On `$conn`, under [`TREE_LOCK`].
macro_rules! parent_list {
    ($conn:ident, $db:expr, $parent:expr, $list:expr) => {
        match place_in_tree!($conn, $db, $parent) {
            None => Err(Refusal::NoSuchParent),
            Some((_, Some(_))) => Err(Refusal::ParentIsSubtask),
            Some((home, None)) if $list.is_some_and(|list: i64| list != home) => Err(Refusal::ParentInAnotherList),
            Some((home, None)) => Ok(home),
        }
    };
}

/// Creates a task in the owner's list `list` (`None`: the Inbox; with a
/// parent, the parent's list) unless the owner already holds `quota` live
/// ones. (Deleted tasks await their purge for seconds only.) The checks
/// and the insert are one statement; on PostgreSQL, where two such
/// statements could both see room, the owner's creates also queue on a
/// lock of their own ([`QUOTA_LOCK`]). A task with labels or a parent is
/// written in one transaction.
pub async fn create(db: UserDb<'_>, input: &TaskInput, list: Option<i64>, quota: Quotas) -> DbResult<Created> {
    let now = now();
    let sql = format!(
        "INSERT INTO tasks (user_id, title, description, title_folded, description_folded, completed, due_date,
                            created_at, updated_at, priority, list_id, position, parent_id)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, l.id, {TOP_OF_LIST}, $12 FROM lists l
         WHERE l.user_id = $1 AND (l.id = $13 OR ($13 IS NULL AND l.is_inbox)) AND {LIVE_TASKS} < $11
         RETURNING {COLUMNS}"
    );
    // The statement, on `$conn`, into `$list`.
    macro_rules! insert {
        ($conn:ident, $list:expr) => {{
            if db.is_postgres() {
                sqlx::query(QUOTA_LOCK).bind(db.owner()).execute(&mut *$conn).await?;
            }
            sqlx::query_as::<_, Task>(&sql)
                .bind(db.owner())
                .bind(&input.title)
                .bind(&input.description)
                .bind(fold(&input.title))
                .bind(input.description.as_deref().map(fold))
                .bind(false)
                .bind(input.due_date)
                .bind(now)
                .bind(now)
                .bind(input.priority)
                .bind(quota.tasks)
                .bind(input.parent_id)
                .bind($list)
                .fetch_optional(&mut *$conn)
                .await?
        }};
    }
    let inserted = async {
        if input.labels.is_empty() && input.parent_id.is_none() {
            return Ok::<_, DbError>(Ok(as_user!(db, writing conn => insert!(conn, list))));
        }
        Ok(as_user!(db, atomically conn => {
            let mut list = list;
            if let Some(parent) = input.parent_id {
                tree_lock!(conn, db);
                match parent_list!(conn, db, parent, list) {
                    Ok(home) => list = Some(home),
                    Err(refusal) => return Ok(Err(refusal)),
                }
            }
            let Some(mut task) = insert!(conn, list) else { return Ok(Ok(None)) };
            if !input.labels.is_empty() {
                // No room for its new labels: dropped uncommitted, rolled back.
                task.labels = labels::set_labels!(conn, db, task.id, &input.labels, quota.labels)
                    .ok_or(DbError::LabelQuota(quota.labels))?;
            }
            Ok(Some(task))
        }))
    };
    let task = match inserted.await {
        // The list was deleted after the statement found it (decision 0018).
        Err(DbError::Gone(_)) => return Ok(Created::NoSuchList),
        Ok(Err(refusal)) => return Ok(Created::Refused(refusal)),
        Ok(Ok(task)) => task,
        Err(other) => return Err(other),
    };
    Ok(match (task, list) {
        (Some(task), _) => Created::Task(task),
        (None, Some(list)) if lists::get(db, list).await?.is_none() => Created::NoSuchList,
        (None, _) => Created::QuotaFull,
    })
}

/// What became of an update.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // One a request, moved once: a box would only add an allocation.
pub enum Updated {
    Task(Task),
    /// The task, or the list it was to move to, is not the owner's.
    NotFound,
    /// The parent asked for cannot take it, or a subtask would leave its
    /// parent's list: nothing was written.
    Refused(Refusal),
}

/// Applies `patch` in one statement, so concurrent changes to different
/// fields both land. New labels count against `label_quota`
/// ([`DbError::LabelQuota`]). A patch with labels, a parent or a list is
/// one transaction: a task moved to another list takes its subtasks along.
pub async fn update(db: UserDb<'_>, id: i64, patch: &TaskPatch, label_quota: i64) -> DbResult<Updated> {
    let now = now();
    // The statement, on `$conn`.
    macro_rules! update {
        ($conn:ident, $patch:expr) => {{
            let patch: &TaskPatch = $patch;
            // Only the fields the patch names are written.
            let mut q = sqlx::QueryBuilder::new("UPDATE tasks SET updated_at = ");
            q.push_bind(now);
            if let Some(title) = &patch.title {
                q.push(", title = ").push_bind(title.clone()).push(", title_folded = ").push_bind(fold(title));
            }
            if let Some(description) = &patch.description {
                q.push(", description = ").push_bind(description.clone());
                q.push(", description_folded = ").push_bind(description.as_deref().map(fold));
            }
            if let Some(due_date) = patch.due_date {
                q.push(", due_date = ").push_bind(due_date);
            }
            if let Some(priority) = patch.priority {
                q.push(", priority = ").push_bind(priority);
            }
            if let Some(list) = patch.list_id {
                // Moved to another list: to its top, as a new task goes.
                q.push(", position = CASE WHEN list_id = ").push_bind(list).push(" THEN position ELSE ");
                q.push("(SELECT coalesce(min(sibling.position), 0) - 1 FROM tasks sibling WHERE sibling.user_id = ");
                q.push_bind(db.owner()).push(" AND sibling.list_id = ").push_bind(list).push(") END");
                q.push(", list_id = ").push_bind(list);
            }
            if let Some(parent) = patch.parent_id {
                q.push(", parent_id = ").push_bind(parent);
            }
            if let Some(completed) = patch.completed {
                // completed_at keeps its first value while the task stays completed.
                q.push(", completed = ").push_bind(completed);
                q.push(", completed_at = CASE WHEN ").push_bind(completed);
                q.push(" THEN coalesce(completed_at, ").push_bind(now).push(") ELSE NULL END");
            }
            q.push(" WHERE id = ").push_bind(id).push(" AND user_id = ").push_bind(db.owner());
            if let Some(list) = patch.list_id {
                // Another user's list, like a missing one, finds no task to change.
                q.push(" AND EXISTS (SELECT 1 FROM lists WHERE id = ").push_bind(list);
                q.push(" AND user_id = ").push_bind(db.owner()).push(")");
            }
            q.push(" AND deleted_at IS NULL RETURNING ").push(COLUMNS);
            q.build_query_as::<Task>().fetch_optional(&mut *$conn).await?
        }};
    }
    let reshapes = patch.list_id.is_some() || patch.parent_id.is_some();
    if patch.labels.is_none() && !reshapes {
        let task = as_user!(db, writing conn => update!(conn, patch));
        return Ok(task.map_or(Updated::NotFound, Updated::Task));
    }
    let updated = as_user!(db, atomically conn => {
        if reshapes {
            tree_lock!(conn, db);
        }
        if db.is_postgres() {
            // The label lock before the task's row, as every label write
            // takes them: a rename holding the lock while it rewrites this
            // task's names (or its subtasks', which a reshape also writes)
            // would otherwise deadlock with this edit.
            sqlx::query(labels::LABEL_LOCK).bind(db.owner()).execute(&mut *conn).await?;
        }
        let mut patch = patch.clone();
        if reshapes {
            let Some((_, parent)) = place_in_tree!(conn, db, id) else { return Ok(Updated::NotFound) };
            if let Some(Some(new_parent)) = patch.parent_id {
                if new_parent == id {
                    return Ok(Updated::Refused(Refusal::ParentIsSelf));
                }
                let has_subtasks: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM tasks WHERE user_id = $1 AND parent_id = $2 AND deleted_at IS NULL)",
                )
                .bind(db.owner())
                .bind(id)
                .fetch_one(&mut *conn)
                .await?;
                if has_subtasks {
                    return Ok(Updated::Refused(Refusal::HasSubtasks));
                }
            }
            // A subtask stays in its parent's list: that list, unless it
            // names another (which a subtask kept as one cannot go to).
            if let Some(parent) = patch.parent_id.unwrap_or(parent) {
                match parent_list!(conn, db, parent, patch.list_id) {
                    Ok(home) => patch.list_id = Some(home),
                    Err(Refusal::ParentInAnotherList) if patch.parent_id.is_none() => {
                        return Ok(Updated::Refused(Refusal::LeavesItsParent));
                    }
                    Err(refusal) => return Ok(Updated::Refused(refusal)),
                }
            }
        }
        let Some(mut task) = update!(conn, &patch) else { return Ok(Updated::NotFound) };
        if let Some(list) = patch.list_id {
            // Its subtasks follow it (the deleted ones too, for an undo; a
            // task made a subtask has only those).
            sqlx::query("UPDATE tasks SET list_id = $1 WHERE user_id = $2 AND parent_id = $3 AND list_id <> $4")
                .bind(list)
                .bind(db.owner())
                .bind(id)
                .bind(list)
                .execute(&mut *conn)
                .await?;
        }
        if let Some(labels) = &patch.labels {
            // The edit form always sends the labels: most often those the task has.
            let mut wanted: Vec<String> = labels.iter().map(|l| fold(l)).collect();
            let mut held: Vec<String> = task.labels.iter().map(|l| fold(l)).collect();
            wanted.sort();
            held.sort();
            if wanted != held {
                task.labels = labels::set_labels!(conn, db, task.id, labels, label_quota)
                    .ok_or(DbError::LabelQuota(label_quota))?;
            }
        }
        Updated::Task(task)
    });
    Ok(updated)
}

/// What became of a toggle.
#[derive(Debug)]
pub enum Toggled {
    Task(Task),
    NotFound,
    /// Not done, but its subtasks are not all done either: the pages ask
    /// what to do with them ([`complete`]); nothing was written.
    HasOpenSubtasks(Task),
}

/// The live subtasks of the owner's task `$2`, of owner `$1`, not done.
const OPEN_SUBTASKS: &str =
    "SELECT 1 FROM tasks s WHERE s.user_id = $1 AND s.parent_id = $2 AND s.deleted_at IS NULL AND NOT s.completed";

/// Flips `completed` in one statement, so two quick clicks cannot race;
/// a task with open subtasks is not marked done that way.
pub async fn toggle(db: UserDb<'_>, id: i64) -> DbResult<Toggled> {
    let now = now();
    let sql = format!(
        "UPDATE tasks SET completed = NOT completed,
             completed_at = CASE WHEN completed THEN NULL ELSE $3 END,
             updated_at = $4
         WHERE id = $2 AND user_id = $1 AND deleted_at IS NULL AND (completed OR NOT EXISTS ({OPEN_SUBTASKS}))
         RETURNING {COLUMNS}"
    );
    let task = as_user!(db, writing conn => {
        sqlx::query_as::<_, Task>(&sql).bind(db.owner()).bind(id).bind(now).bind(now).fetch_optional(&mut *conn).await?
    });
    Ok(match task {
        Some(task) => Toggled::Task(task),
        None => get(db, id).await?.map_or(Toggled::NotFound, Toggled::HasOpenSubtasks),
    })
}

/// How many of the owner's task `id`'s live subtasks are not done.
pub async fn open_subtasks(db: UserDb<'_>, id: i64) -> DbResult<i64> {
    let sql = format!("SELECT count(*) FROM ({OPEN_SUBTASKS}) AS open");
    let open = as_user!(db, conn => {
        sqlx::query_scalar(&sql).bind(db.owner()).bind(id).fetch_one(&mut *conn).await?
    });
    Ok(open)
}

/// Marks the owner's task done, and its subtasks too when `with_subtasks`,
/// in one statement; `None` when there is no such task.
pub async fn complete(db: UserDb<'_>, id: i64, with_subtasks: bool) -> DbResult<Option<Task>> {
    let now = now();
    // A subtask is done with its parent only while the parent is live.
    let sql = format!(
        "UPDATE tasks SET completed = TRUE, completed_at = coalesce(completed_at, $3), updated_at = $4
         WHERE user_id = $1 AND deleted_at IS NULL
           AND (id = $2 OR ($5 AND parent_id = $2
                AND EXISTS (SELECT 1 FROM tasks p WHERE p.id = $2 AND p.user_id = $1 AND p.deleted_at IS NULL)))
         RETURNING {COLUMNS}"
    );
    let tasks = as_user!(db, writing conn => {
        tree_lock!(conn, db);
        sqlx::query_as::<_, Task>(&sql)
            .bind(db.owner())
            .bind(id)
            .bind(now)
            .bind(now)
            .bind(with_subtasks)
            .fetch_all(&mut *conn)
            .await?
    });
    Ok(tasks.into_iter().find(|task| task.id == id))
}

/// Where [`move_task`] puts a task in its list's manual order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    Top,
    Bottom,
    /// Just before (above) this task of the owner's.
    Before(i64),
    /// Just after (below) it.
    After(i64),
    /// One place up or down among its list's live tasks (the pages' buttons).
    Up,
    Down,
}

/// What became of a move.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // One a request, moved once: a box would only add an allocation.
pub enum Moved {
    Task(Task),
    /// The task, the task it was to go next to, or the list is not the owner's.
    NotFound,
    /// The task it was to go next to is in another list than the one named.
    NotInThatList,
    /// A subtask would leave its parent's list.
    Refused(Refusal),
}

/// PostgreSQL: what an owner's moves queue on, so that two (two tabs
/// reordering at once) never compute their places from the same neighbours.
const MOVE_LOCK: &str = "SELECT pg_advisory_xact_lock(hashtextextended($1::text, 7035))";

/// Gaps below this are split no further: the list is renumbered first.
const SMALLEST_GAP: f64 = 1e-9;

/// Moves the owner's task to `placement` in its list, or in `list` (another
/// of the owner's lists) when given, in one transaction. Only the task's
/// row is written (its position between its new neighbours'), unless those
/// are too close to split: then the list is renumbered first, 1, 2, 3 …
pub async fn move_task(db: UserDb<'_>, id: i64, placement: Placement, list: Option<i64>) -> DbResult<Moved> {
    let owner = db.owner();
    let moved = as_user!(db, atomically conn => {
        if db.is_postgres() {
            // The tree lock too, before any row: a move may take a parent
            // (and so its subtasks) to another list.
            sqlx::query(MOVE_LOCK).bind(owner).execute(&mut *conn).await?;
            sqlx::query(TREE_LOCK).bind(owner).execute(&mut *conn).await?;
            sqlx::query(labels::LABEL_LOCK).bind(owner).execute(&mut *conn).await?;
        }
        // (list, position, parent) of a live task of the owner's.
        macro_rules! place_of {
            ($task:expr) => {
                sqlx::query_as::<_, (i64, f64, Option<i64>)>(
                    "SELECT list_id, position, parent_id FROM tasks WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL",
                )
                .bind($task)
                .bind(owner)
                .fetch_optional(&mut *conn)
                .await?
            };
        }
        // The live sibling (a task of `$list` with parent `$parent`) next
        // to (`$position`, `$of`) going `$up` or down in manual order
        // (position ascending, then newest first), the moving task left
        // out. Siblings only: a list shows its tasks without their
        // subtasks, and a task's subtasks without the rest.
        macro_rules! neighbour {
            ($list:expr, $parent:expr, $position:expr, $of:expr, $up:expr) => {{
                let sql = if $up {
                    "SELECT id, position FROM tasks WHERE user_id = $1 AND list_id = $2 AND deleted_at IS NULL
                       AND id <> $3 AND (position < $4 OR (position = $5 AND id > $6))
                       AND parent_id IS NOT DISTINCT FROM $7
                     ORDER BY position DESC, id ASC LIMIT 1"
                } else {
                    "SELECT id, position FROM tasks WHERE user_id = $1 AND list_id = $2 AND deleted_at IS NULL
                       AND id <> $3 AND (position > $4 OR (position = $5 AND id < $6))
                       AND parent_id IS NOT DISTINCT FROM $7
                     ORDER BY position ASC, id DESC LIMIT 1"
                };
                sqlx::query_as::<_, (i64, f64)>(sql)
                    .bind(owner)
                    .bind($list)
                    .bind(id)
                    .bind($position)
                    .bind($position)
                    .bind($of)
                    .bind($parent)
                    .fetch_optional(&mut *conn)
                    .await?
            }};
        }
        // The moved task's row first (PostgreSQL): an edit moving it to
        // another list meanwhile waits, rather than being written over.
        if db.is_postgres() {
            sqlx::query("SELECT 1 FROM tasks WHERE id = $1 AND user_id = $2 FOR UPDATE")
                .bind(id)
                .bind(owner)
                .execute(&mut *conn)
                .await?;
        }
        let Some((home, here, parent)) = place_of!(id) else { return Ok(Moved::NotFound) };
        // Up and down are before the sibling above and after the one below.
        let placement = match placement {
            Placement::Up => match neighbour!(home, parent, here, id, true) {
                Some((above, _)) => Placement::Before(above),
                None => Placement::Top,
            },
            Placement::Down => match neighbour!(home, parent, here, id, false) {
                Some((below, _)) => Placement::After(below),
                None => Placement::Bottom,
            },
            other => other,
        };
        // (id, list, position, parent) of the task to go next to.
        let mut anchor = match placement {
            Placement::Before(other) | Placement::After(other) => {
                let Some((anchor_list, at, siblings)) = place_of!(other) else { return Ok(Moved::NotFound) };
                if list.is_some_and(|list| list != anchor_list) {
                    return Ok(Moved::NotInThatList);
                }
                Some((other, anchor_list, at, siblings))
            }
            _ => None,
        };
        let target = list.or(anchor.map(|(_, list, ..)| list)).unwrap_or(home);
        if target != home && parent.is_some() {
            return Ok(Moved::Refused(Refusal::LeavesItsParent));
        }
        if target != home {
            let mine: Option<i64> = sqlx::query_scalar("SELECT id FROM lists WHERE id = $1 AND user_id = $2")
                .bind(target)
                .bind(owner)
                .fetch_optional(&mut *conn)
                .await?;
            if mine.is_none() {
                return Ok(Moved::NotFound);
            }
        }
        let mut renumbered = false;
        let position = loop {
            let (low, high) = match (placement, anchor) {
                (Placement::Before(_), Some((other, _, at, siblings))) => {
                    (neighbour!(target, siblings, at, other, true).map(|n| n.1), Some(at))
                }
                (Placement::After(_), Some((other, _, at, siblings))) => {
                    (Some(at), neighbour!(target, siblings, at, other, false).map(|n| n.1))
                }
                (Placement::Bottom, _) => {
                    let last: Option<f64> = sqlx::query_scalar(
                        "SELECT max(position) FROM tasks WHERE user_id = $1 AND list_id = $2 AND id <> $3",
                    )
                    .bind(owner)
                    .bind(target)
                    .bind(id)
                    .fetch_one(&mut *conn)
                    .await?;
                    (last, None)
                }
                _ => {
                    let first: Option<f64> = sqlx::query_scalar(
                        "SELECT min(position) FROM tasks WHERE user_id = $1 AND list_id = $2 AND id <> $3",
                    )
                    .bind(owner)
                    .bind(target)
                    .bind(id)
                    .fetch_one(&mut *conn)
                    .await?;
                    (None, first)
                }
            };
            match (low, high) {
                // Strictly between, as a float can say it: far from 0 two
                // neighbours 1e-9 apart may have no float between them.
                (Some(low), Some(high))
                    if (high - low > SMALLEST_GAP && low < (low + high) / 2.0 && (low + high) / 2.0 < high)
                        || renumbered =>
                {
                    break (low + high) / 2.0;
                }
                (Some(_), Some(_)) => {
                    // Too close to split: 1, 2, 3 … in the list's order, once.
                    sqlx::query(
                        "UPDATE tasks SET position = numbered.n FROM
                           (SELECT id, row_number() OVER (ORDER BY position, id DESC) AS n
                            FROM tasks WHERE user_id = $1 AND list_id = $2) AS numbered
                         WHERE tasks.id = numbered.id AND tasks.user_id = $3",
                    )
                    .bind(owner)
                    .bind(target)
                    .bind(owner)
                    .execute(&mut *conn)
                    .await?;
                    renumbered = true;
                    // The anchor's place has changed: read it again.
                    if let Some((other, anchor_list, _, siblings)) = anchor {
                        let Some((_, at, _)) = place_of!(other) else { return Ok(Moved::NotFound) };
                        anchor = Some((other, anchor_list, at, siblings));
                    }
                    continue;
                }
                (Some(low), None) => break low + 1.0,
                (None, Some(high)) => break high - 1.0,
                (None, None) => break 0.0,
            }
        };
        let sql = format!(
            "UPDATE tasks SET position = $1, list_id = $2, updated_at = $3
             WHERE id = $4 AND user_id = $5 AND deleted_at IS NULL RETURNING {COLUMNS}"
        );
        // Deleted meanwhile (a deletion does not wait for moves): not found.
        let task = sqlx::query_as::<_, Task>(&sql)
            .bind(position)
            .bind(target)
            .bind(now())
            .bind(id)
            .bind(owner)
            .fetch_optional(&mut *conn)
            .await?;
        if task.is_some() && target != home {
            // Its subtasks follow it (the deleted ones too, for an undo).
            sqlx::query("UPDATE tasks SET list_id = $1 WHERE user_id = $2 AND parent_id = $3")
                .bind(target)
                .bind(owner)
                .bind(id)
                .execute(&mut *conn)
                .await?;
        }
        task.map_or(Moved::NotFound, Moved::Task)
    });
    Ok(moved)
}

/// Deletes the owner's task and its subtasks for good (the JSON API, where
/// clients keep their own undo); false when there was none to delete.
pub async fn delete(db: UserDb<'_>, id: i64) -> DbResult<bool> {
    let result = as_user!(db, writing conn => {
        // Its subtasks with it (the key's cascade would too; said here, so
        // that every backend's counts triggers see each row go).
        sqlx::query_scalar::<_, i64>(
            "DELETE FROM tasks WHERE user_id = $2 AND (id = $1 OR parent_id = $1)
               AND EXISTS (SELECT 1 FROM tasks p WHERE p.id = $1 AND p.user_id = $2 AND p.deleted_at IS NULL)
             RETURNING id",
        )
        .bind(id)
        .bind(db.owner())
        .fetch_all(&mut *conn)
        .await?
    });
    Ok(result.contains(&id))
}

/// Up to `limit` of the owner's tasks after id `after`, oldest first: "Export
/// my data" reads them a page at a time, so it never holds them all.
pub async fn page_after(db: UserDb<'_>, after: i64, limit: i64) -> DbResult<Vec<Task>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM tasks WHERE user_id = $1 AND deleted_at IS NULL AND id > $2 ORDER BY id LIMIT $3"
    );
    let tasks = as_user!(db, conn => {
        sqlx::query_as::<_, Task>(&sql).bind(db.owner()).bind(after).bind(limit).fetch_all(&mut *conn).await?
    });
    Ok(tasks)
}

/// The condition that keeps a bulk action to one list (parameter `$n`,
/// bound last only when there is a list), or none.
fn in_list(list: Option<i64>, n: u8) -> String {
    list.map_or_else(String::new, |_| format!(" AND list_id = ${n}"))
}

/// Marks every live task (of `list`, if given) completed, or every one
/// active, in one statement. Returns how many changed.
pub async fn set_all_completed(db: UserDb<'_>, list: Option<i64>, completed: bool) -> DbResult<u64> {
    let now = now();
    let sql = format!(
        "UPDATE tasks SET completed = $1,
             completed_at = CASE WHEN $1 THEN coalesce(completed_at, $2) ELSE NULL END,
             updated_at = $3
         WHERE user_id = $4 AND deleted_at IS NULL AND completed <> $1{}",
        in_list(list, 5)
    );
    let changed = as_user!(db, writing conn => {
        tree_lock!(conn, db);
        let mut update = sqlx::query(&sql).bind(completed).bind(now).bind(now).bind(db.owner());
        if let Some(list) = list {
            update = update.bind(list);
        }
        update.execute(&mut *conn).await?.rows_affected()
    });
    Ok(changed)
}

/// What one delete or "clear completed" removed, for the Undo offer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deletion {
    pub batch: Uuid,
    pub count: i64,
    /// The title, when exactly one task was removed.
    pub title: Option<String>,
    pub deleted_at: OffsetDateTime,
}

impl Deletion {
    fn new(batch: Uuid, titles: Vec<String>, deleted_at: OffsetDateTime) -> Self {
        let count = titles.len() as i64;
        let title = if count == 1 { titles.into_iter().next() } else { None };
        Deletion { batch, count, title, deleted_at }
    }

    /// Seconds left to undo it, at `now`.
    pub fn seconds_left(&self, now: OffsetDateTime) -> i64 {
        (self.deleted_at + UNDO_WINDOW - now).whole_seconds().max(0)
    }
}

/// Removes deletions of the owner (`$1`) that can no longer be undone
/// (deleted before `$2`); each new deletion runs it first.
const PURGE_UNDONE: &str = "DELETE FROM tasks WHERE user_id = $1 AND deleted_at IS NOT NULL AND deleted_at < $2";

/// Deletes the owner's task with its live subtasks, undoably, as one
/// deletion; `None` when there was none to delete.
pub async fn trash(db: UserDb<'_>, id: i64) -> DbResult<Option<Deletion>> {
    let now = now();
    let batch = Uuid::new_v4();
    let rows: Vec<(i64, String)> = as_user!(db, writing conn => {
        tree_lock!(conn, db);
        sqlx::query(PURGE_UNDONE).bind(db.owner()).bind(now - UNDO_WINDOW).execute(&mut *conn).await?;
        sqlx::query_as(
            "UPDATE tasks SET deleted_at = $1, deleted_batch = $2
             WHERE user_id = $4 AND deleted_at IS NULL AND (id = $3 OR (parent_id = $3
                   AND EXISTS (SELECT 1 FROM tasks p WHERE p.id = $3 AND p.user_id = $4 AND p.deleted_at IS NULL)))
             RETURNING id, title",
        )
        .bind(now)
        .bind(batch)
        .bind(id)
        .bind(db.owner())
        .fetch_all(&mut *conn)
        .await?
    });
    if !rows.iter().any(|(deleted, _)| *deleted == id) {
        return Ok(None);
    }
    Ok(Some(Deletion::new(batch, rows.into_iter().map(|(_, title)| title).collect(), now)))
}

/// Deletes all the owner's completed tasks (of `list`, if given) with
/// their subtasks, undoably, as one deletion.
pub async fn clear_completed(db: UserDb<'_>, list: Option<i64>) -> DbResult<Deletion> {
    let now = now();
    let batch = Uuid::new_v4();
    // A completed task's subtasks go with it, done or not.
    let sql = format!(
        "UPDATE tasks SET deleted_at = $1, deleted_batch = $2
         WHERE user_id = $3 AND deleted_at IS NULL{}
           AND (completed OR parent_id IN
                (SELECT p.id FROM tasks p WHERE p.user_id = $3 AND p.completed AND p.deleted_at IS NULL))
         RETURNING title",
        in_list(list, 4)
    );
    let titles: Vec<String> = as_user!(db, writing conn => {
        tree_lock!(conn, db);
        sqlx::query(PURGE_UNDONE).bind(db.owner()).bind(now - UNDO_WINDOW).execute(&mut *conn).await?;
        let mut clear = sqlx::query_scalar(&sql).bind(now).bind(batch).bind(db.owner());
        if let Some(list) = list {
            clear = clear.bind(list);
        }
        clear.fetch_all(&mut *conn).await?
    });
    Ok(Deletion::new(batch, titles, now))
}

/// The owner's deletion `batch`, while it can still be undone.
pub async fn deletion(db: UserDb<'_>, batch: Uuid) -> DbResult<Option<Deletion>> {
    let now = now();
    let rows: Vec<(String, OffsetDateTime)> = as_user!(db, conn => {
        sqlx::query_as(
            "SELECT title, deleted_at FROM tasks
             WHERE user_id = $1 AND deleted_batch = $2 AND deleted_at IS NOT NULL AND deleted_at >= $3
             ORDER BY id DESC",
        )
        .bind(db.owner())
        .bind(batch)
        .bind(now - UNDO_WINDOW)
        .fetch_all(&mut *conn)
        .await?
    });
    let deleted_at = match rows.first() {
        Some((_, at)) => *at,
        None => return Ok(None),
    };
    Ok(Some(Deletion::new(batch, rows.into_iter().map(|(title, _)| title).collect(), deleted_at)))
}

/// PostgreSQL: what an owner's creates and restores queue on (for the rest
/// of their transaction), so that the quota check and the write cannot
/// interleave. SQLite runs one writer at a time anyway.
const QUOTA_LOCK: &str = "SELECT pg_advisory_xact_lock(hashtextextended($1::text, 7032))";

/// A deleted task of deletion `$2` that may come back: a subtask only
/// under a parent that is live, or comes back with it, is no subtask itself
/// and is in the same list (it may have become a subtask, or moved, meanwhile).
const RESTORABLE: &str = "(parent_id IS NULL OR EXISTS (SELECT 1 FROM tasks p
     WHERE p.user_id = tasks.user_id AND p.id = tasks.parent_id AND p.parent_id IS NULL
       AND p.list_id = tasks.list_id AND (p.deleted_at IS NULL OR p.deleted_batch = $2)))";

/// Brings back the owner's deletion `batch` if it is still within the undo
/// window: the tasks restored (none when too late or not the owner's), or
/// `None` when they would take the owner past `quota` live tasks.
pub async fn restore(db: UserDb<'_>, batch: Uuid, quota: i64) -> DbResult<Option<Vec<String>>> {
    let since = now() - UNDO_WINDOW;
    // One statement that writes first: on SQLite a transaction that read
    // before writing could fail outright when another writer got in between.
    let restore = format!(
        "UPDATE tasks SET deleted_at = NULL, deleted_batch = NULL
             WHERE user_id = $1 AND deleted_batch = $2 AND deleted_at IS NOT NULL AND deleted_at >= $3
               AND {RESTORABLE}
               AND {LIVE_TASKS}
                 + (SELECT count(*) FROM tasks
                    WHERE user_id = $1 AND deleted_batch = $2 AND deleted_at IS NOT NULL AND deleted_at >= $3
                      AND {RESTORABLE}) <= $4
             RETURNING title"
    );
    let titles: Vec<String> = as_user!(db, writing conn => {
        tree_lock!(conn, db);
        if db.is_postgres() {
            sqlx::query(QUOTA_LOCK).bind(db.owner()).execute(&mut *conn).await?;
        }
        sqlx::query_scalar(&restore)
        .bind(db.owner())
        .bind(batch)
        .bind(since)
        .bind(quota)
        .fetch_all(&mut *conn)
        .await?
    });
    if !titles.is_empty() {
        return Ok(Some(titles));
    }
    // Nothing restored: too late (or not the owner's), or no room.
    let waiting: i64 = as_user!(db, conn => {
        sqlx::query_scalar(&format!(
            "SELECT count(*) FROM tasks
             WHERE user_id = $1 AND deleted_batch = $2 AND deleted_at IS NOT NULL AND deleted_at >= $3 AND {RESTORABLE}"
        ))
        .bind(db.owner())
        .bind(batch)
        .bind(since)
        .fetch_one(&mut *conn)
        .await?
    });
    Ok(if waiting > 0 { None } else { Some(Vec::new()) })
}

#[cfg(test)]
mod tests {
    use super::like_pattern;

    #[test]
    fn search_wildcards_are_escaped() {
        assert_eq!(like_pattern("50%_a\\B"), "%50\\%\\_a\\\\b%");
    }

    #[test]
    fn search_folds_unicode_and_drops_control_characters() {
        assert_eq!(like_pattern("ÉCRIRE\u{0}"), "%écrire%");
    }
}
