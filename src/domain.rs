//! Input that has been checked: each type can only be built by `parse`, so a
//! value of it is valid wherever it travels (parse, don't validate).
//!
//! The error strings are shown to users beside the field they concern.

use time::{Date, macros::format_description};

/// A trimmed, lower-cased email address of at most 254 characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// A valid e-mail address as the HTML standard defines it for
    /// `<input type=email>`: one `@`; before it, letters, digits and
    /// ``.!#$%&'*+/=?^_`{|}~-``; after it, dot-separated labels of letters,
    /// digits and hyphens (1–63 each, no hyphen at either end).
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        const MALFORMED: &str = "Enter an email address like name@example.com.";
        let email = raw.trim().to_lowercase();
        if email.chars().count() > 254 {
            return Err("That email address is too long (254 characters at most).");
        }
        let Some((local, domain)) = email.split_once('@') else {
            return Err(MALFORMED);
        };
        let local_ok = !local.is_empty()
            && local.bytes().all(|b| b.is_ascii_alphanumeric() || b".!#$%&'*+/=?^_`{|}~-".contains(&b));
        let label_ok = |label: &str| {
            (1..=63).contains(&label.len())
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        };
        if !local_ok || !domain.split('.').all(label_ok) {
            return Err(MALFORMED);
        }
        Ok(Email(email))
    }

    /// An address to look an account up by (sign-in, re-authentication,
    /// reset, the command line): trimmed and lower-cased, under the looser
    /// rules accounts were first created with, so an account made before
    /// [`Email::parse`] grew strict can still sign in. New addresses always
    /// go through [`Email::parse`].
    pub fn for_lookup(raw: &str) -> Result<Self, &'static str> {
        let email = raw.trim().to_lowercase();
        let shaped = email.rsplit_once('@').is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty());
        if !shaped || email.chars().count() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("Enter an email address like name@example.com.");
        }
        Ok(Email(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password as the user typed it: 8 to 1024 characters, no composition
/// rules (NIST SP 800-63B). Its `Debug` never shows it.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_CHARS: usize = 1024;

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let length = raw.chars().count();
        if length < Self::MIN_CHARS {
            return Err("Use at least 8 characters.");
        }
        if length > Self::MAX_CHARS {
            return Err("Use at most 1024 characters.");
        }
        Ok(Password(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password([redacted])")
    }
}

/// An optional display name: trimmed, empty means none, at most 100 characters.
/// Shown when a password is refused as too easy to guess.
pub const GUESSABLE_PASSWORD: &str =
    "That password is too common or too easy to guess. Try a longer phrase of a few unrelated words.";

pub fn parse_name(raw: Option<&str>) -> Result<Option<String>, &'static str> {
    let name = raw.map(str::trim).filter(|n| !n.is_empty());
    match name {
        None => Ok(None),
        Some(n) if n.chars().count() > 100 => Err("Use at most 100 characters."),
        Some(n) if n.chars().any(char::is_control) => Err("Remove the control characters."),
        Some(n) => Ok(Some(n.to_owned())),
    }
}

/// A task title: 1–255 characters after trimming, no control characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskTitle(String);

impl TaskTitle {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let title = raw.trim();
        if title.is_empty() {
            return Err("Give the task a title.");
        }
        if title.chars().count() > 255 {
            return Err("Keep the title to 255 characters.");
        }
        if title.chars().any(char::is_control) {
            return Err("The title cannot contain control characters.");
        }
        Ok(TaskTitle(title.to_owned()))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A row id as written in a path, query or form: a positive whole number,
/// or none (which then names nothing: not found).
pub fn parse_id(raw: &str) -> Option<i64> {
    raw.trim().parse::<i64>().ok().filter(|id| *id > 0)
}

/// A task's labels as the API gives them, a JSON array: as
/// [`parse_labels`], but a blank name is refused rather than skipped.
pub fn parse_label_array(names: &[String]) -> Result<Vec<String>, &'static str> {
    if names.iter().any(|name| name.trim().is_empty()) {
        return Err("Give the label a name.");
    }
    parse_labels(names.iter().map(String::as_str))
}

/// A list's name: 1–100 characters after trimming, no control characters.
pub fn parse_list_name(raw: &str) -> Result<String, &'static str> {
    let name = raw.trim();
    if name.is_empty() {
        return Err("Give the list a name.");
    }
    if name.chars().count() > 100 {
        return Err("Keep the name to 100 characters.");
    }
    if name.chars().any(char::is_control) {
        return Err("The name cannot contain control characters.");
    }
    Ok(name.to_owned())
}

/// A label's name: 1–50 characters after trimming, no control characters
/// and no commas (the pages take a task's labels as one comma-separated
/// field).
pub fn parse_label_name(raw: &str) -> Result<String, &'static str> {
    let name = raw.trim();
    if name.is_empty() {
        return Err("Give the label a name.");
    }
    if name.chars().count() > 50 {
        return Err("Keep a label's name to 50 characters.");
    }
    if name.chars().any(|c| c.is_control() || c == ',') {
        return Err("A label's name cannot contain commas or control characters.");
    }
    Ok(name.to_owned())
}

/// The most labels one task may carry (PRODUCT.md §7).
pub const MAX_LABELS_PER_TASK: usize = 20;

/// A task's labels: each a [`parse_label_name`], the same name (in any
/// case) once, at most [`MAX_LABELS_PER_TASK`]. Blank entries are skipped,
/// so `"a, , b,"` is two labels.
pub fn parse_labels<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Vec<String>, &'static str> {
    let mut labels: Vec<String> = Vec::new();
    for raw in names {
        if raw.trim().is_empty() {
            continue;
        }
        let name = parse_label_name(raw)?;
        let folded = crate::db::fold(&name);
        if !labels.iter().any(|l| crate::db::fold(l) == folded) {
            labels.push(name);
        }
        if labels.len() > MAX_LABELS_PER_TASK {
            return Err("Give a task at most 20 labels.");
        }
    }
    Ok(labels)
}

/// The colours a list may have: names the stylesheet gives a swatch in
/// light and dark, never free text that would end up in a `style`.
pub const COLOURS: [&str; 9] = ["red", "orange", "yellow", "green", "teal", "blue", "purple", "pink", "grey"];

/// An optional colour from [`COLOURS`]; blank means none.
pub fn parse_colour(raw: Option<&str>) -> Result<Option<&'static str>, &'static str> {
    match raw.map(str::trim).filter(|c| !c.is_empty()) {
        None => Ok(None),
        Some(name) => COLOURS
            .iter()
            .find(|c| c.eq_ignore_ascii_case(name))
            .map(|c| Some(*c))
            .ok_or("Pick one of red, orange, yellow, green, teal, blue, purple, pink or grey."),
    }
}

/// An optional description of at most 10,000 characters; blank means none.
pub fn parse_description(raw: Option<&str>) -> Result<Option<String>, &'static str> {
    let Some(text) = raw.filter(|d| !d.trim().is_empty()) else {
        return Ok(None);
    };
    // Line breaks and tabs are fine in a description; other control characters are not.
    let text = text.trim_end().replace("\r\n", "\n");
    if text.chars().count() > 10_000 {
        return Err("Keep the description to 10,000 characters.");
    }
    if text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err("The description cannot contain control characters.");
    }
    Ok(Some(text))
}

/// An optional due date in `YYYY-MM-DD` form; blank means none.
pub fn parse_due_date(raw: Option<&str>) -> Result<Option<Date>, &'static str> {
    let Some(text) = raw.map(str::trim).filter(|d| !d.is_empty()) else {
        return Ok(None);
    };
    // Four-digit years only: what both databases (and people) can store.
    Date::parse(text, format_description!("[year]-[month]-[day]"))
        .ok()
        .filter(|date| (1..=9999).contains(&date.year()) && text.len() == 10)
        .map(Some)
        .ok_or("Use a date like 2026-12-31.")
}

/// A priority: none, or 1 (the highest) to 4.
pub fn priority_of(number: i64) -> Result<i32, &'static str> {
    if (1..=4).contains(&number) { Ok(number as i32) } else { Err("Use a priority from 1 (the highest) to 4.") }
}

/// An optional priority as typed (`1`–`4`, or `P1`–`P4`); blank or `none`
/// means none.
pub fn parse_priority(raw: Option<&str>) -> Result<Option<i32>, &'static str> {
    let text = raw.map(str::trim).unwrap_or_default();
    if text.is_empty() || text.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let digits = text.strip_prefix(['p', 'P']).unwrap_or(text);
    digits.parse::<i64>().map_err(|_| "Use a priority from 1 (the highest) to 4.").and_then(priority_of).map(Some)
}

/// A priority filter as written: `1`–`4` (or `P1`–`P4`), or `none` for
/// tasks without one (`Ok(None)`).
pub fn parse_priority_filter(raw: &str) -> Result<Option<i32>, &'static str> {
    if raw.trim().eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    parse_priority(Some(raw))?.map(Some).ok_or("Use 1 to 4, or none.")
}

/// What is wrong with which field of a form or JSON body: the same list on
/// the pages (shown beside the fields) and the API (`fields` of a 422).
pub type FieldErrors = Vec<(&'static str, &'static str)>;

/// The first error of `field` in `errors`.
pub fn error_of(errors: &FieldErrors, field: &str) -> Option<&'static str> {
    errors.iter().find(|(name, _)| *name == field).map(|(_, message)| *message)
}

pub fn collect_errors<const N: usize>(checks: [(&'static str, Option<&'static str>); N]) -> FieldErrors {
    checks.into_iter().filter_map(|(field, error)| error.map(|e| (field, e))).collect()
}

/// A task's fields, checked: what creating a task needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskInput {
    pub title: String,
    pub description: Option<String>,
    pub due_date: Option<Date>,
    pub priority: Option<i32>,
    /// Its labels' names ([`parse_labels`]): those the owner has not made
    /// yet are made with it.
    pub labels: Vec<String>,
    /// The task it is a subtask of.
    pub parent_id: Option<i64>,
}

/// A change to some of a task's fields; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TaskPatch {
    pub title: Option<String>,
    pub description: Option<Option<String>>,
    pub due_date: Option<Option<Date>>,
    pub priority: Option<Option<i32>>,
    pub completed: Option<bool>,
    /// Moves the task to this list of the owner's.
    pub list_id: Option<i64>,
    /// Replaces the task's labels with these ([`parse_labels`]).
    pub labels: Option<Vec<String>>,
    /// Makes it a subtask of this task of the owner's (`Some(None)`: frees it).
    pub parent_id: Option<Option<i64>>,
}

impl TaskPatch {
    /// Every field set: what the edit form sends.
    pub fn replace(input: TaskInput, completed: bool) -> Self {
        TaskPatch {
            title: Some(input.title),
            description: Some(input.description),
            due_date: Some(input.due_date),
            priority: Some(input.priority),
            completed: Some(completed),
            list_id: None,
            labels: Some(input.labels),
            parent_id: None,
        }
    }
}

/// A task's fields as written — form fields (the create and edit forms
/// deserialize straight into it) or JSON members, absent as empty — before
/// checking. The one place their rules are applied; a refused form shows
/// these values again beside its errors.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct TaskDraft {
    pub title: String,
    pub description: String,
    pub due_date: String,
    /// Blank, or 1–4.
    pub priority: String,
    /// Label names separated by commas.
    pub labels: String,
}

impl TaskDraft {
    pub fn parse(&self) -> Result<TaskInput, FieldErrors> {
        let title = TaskTitle::parse(&self.title);
        let description = parse_description(Some(&self.description));
        let due_date = parse_due_date(Some(&self.due_date));
        let priority = parse_priority(Some(&self.priority));
        let labels = parse_labels(self.labels.split(','));
        match (title, description, due_date, priority, labels) {
            (Ok(title), Ok(description), Ok(due_date), Ok(priority), Ok(labels)) => {
                Ok(TaskInput { title: title.into_inner(), description, due_date, priority, labels, parent_id: None })
            }
            (title, description, due_date, priority, labels) => Err(collect_errors([
                ("title", title.err()),
                ("description", description.err()),
                ("due_date", due_date.err()),
                ("priority", priority.err()),
                ("labels", labels.err()),
            ])),
        }
    }
}

/// Changes to some of a task's fields as written: `None` leaves a field
/// alone, `Some(None)` clears it (an error for the title and `completed`,
/// which cannot be empty).
#[derive(Clone, Copy, Debug, Default)]
pub struct TaskChangesDraft<'a> {
    pub title: Option<Option<&'a str>>,
    pub description: Option<Option<&'a str>>,
    pub due_date: Option<Option<&'a str>>,
    pub priority: Option<Option<i64>>,
    pub completed: Option<Option<bool>>,
    /// `Some(None)`: `null`, refused (`[]` removes every label).
    pub labels: Option<Option<&'a [String]>>,
}

impl TaskChangesDraft<'_> {
    pub fn parse(&self) -> Result<TaskPatch, FieldErrors> {
        let title = match self.title {
            None => Ok(None),
            Some(None) => Err("The title cannot be null."),
            Some(Some(raw)) => TaskTitle::parse(raw).map(|t| Some(t.into_inner())),
        };
        let description = self.description.map(parse_description).transpose();
        let due_date = self.due_date.map(parse_due_date).transpose();
        let priority = self.priority.map(|p| p.map(priority_of).transpose()).transpose();
        let completed = match self.completed {
            Some(None) => Err("Use true or false."),
            other => Ok(other.flatten()),
        };
        let labels = match self.labels {
            None => Ok(None),
            Some(None) => Err("Use a list of names; [] removes every label."),
            Some(Some(names)) => parse_label_array(names).map(Some),
        };
        match (title, description, due_date, priority, completed, labels) {
            (Ok(title), Ok(description), Ok(due_date), Ok(priority), Ok(completed), Ok(labels)) => Ok(TaskPatch {
                title,
                description,
                due_date,
                priority,
                completed,
                list_id: None,
                labels,
                parent_id: None,
            }),
            (title, description, due_date, priority, completed, labels) => Err(collect_errors([
                ("title", title.err()),
                ("description", description.err()),
                ("due_date", due_date.err()),
                ("priority", priority.err()),
                ("completed", completed.err()),
                ("labels", labels.err()),
            ])),
        }
    }
}

/// A query string split into the values of a repeatable parameter `key`
/// (`label=a&label=b`) and the rest, re-encoded for a struct that takes
/// each other parameter once. `None` when it is not a query string.
pub fn take_repeated(raw: &str, key: &str) -> Option<(Vec<String>, String)> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw).ok()?;
    let (taken, rest): (Vec<_>, Vec<_>) = pairs.into_iter().partition(|(name, _)| name == key);
    let rest = serde_urlencoded::to_string(rest).ok()?;
    Some((taken.into_iter().map(|(_, value)| value).collect(), rest))
}

/// The longest search, in characters: a pattern is matched against every
/// title and description, so its length bounds the work of a list.
pub const MAX_SEARCH_CHARS: usize = 200;

/// A search as typed: trimmed, blank means none, at most
/// [`MAX_SEARCH_CHARS`].
pub fn parse_search(raw: Option<&str>) -> Result<Option<&str>, &'static str> {
    match raw.map(str::trim).filter(|q| !q.is_empty()) {
        Some(q) if q.chars().count() > MAX_SEARCH_CHARS => Err("Search for at most 200 characters."),
        search => Ok(search),
    }
}

/// Which tasks a list shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StatusFilter {
    #[default]
    All,
    Active,
    Completed,
}

impl StatusFilter {
    /// The name in URLs and JSON: `all`, `active`, `completed`.
    pub fn as_str(self) -> &'static str {
        match self {
            StatusFilter::All => "all",
            StatusFilter::Active => "active",
            StatusFilter::Completed => "completed",
        }
    }
}

impl std::str::FromStr for StatusFilter {
    type Err = &'static str;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        match raw {
            "all" => Ok(StatusFilter::All),
            "active" => Ok(StatusFilter::Active),
            "completed" => Ok(StatusFilter::Completed),
            _ => Err("Use all, active or completed."),
        }
    }
}

/// Every entry of an account's audit trail ("Recent activity"). Each has one
/// stable name, stored in `security_events.event` and logged as the `event`
/// field of the same moment, so the table and the logs say the same thing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditEvent {
    SignUp,
    SignIn,
    SignInFailed,
    SignInThrottled,
    SignOut,
    PasswordChanged,
    PasswordReset,
    PasswordResetRequested,
    SessionRevoked,
    SessionsRevokedAll,
    ProfileUpdated,
}

impl AuditEvent {
    pub const ALL: [AuditEvent; 11] = [
        AuditEvent::SignUp,
        AuditEvent::SignIn,
        AuditEvent::SignInFailed,
        AuditEvent::SignInThrottled,
        AuditEvent::SignOut,
        AuditEvent::PasswordChanged,
        AuditEvent::PasswordReset,
        AuditEvent::PasswordResetRequested,
        AuditEvent::SessionRevoked,
        AuditEvent::SessionsRevokedAll,
        AuditEvent::ProfileUpdated,
    ];

    /// The stored and logged name. Stored rows keep it: never rename one.
    pub const fn name(self) -> &'static str {
        match self {
            AuditEvent::SignUp => "signup",
            AuditEvent::SignIn => "signin",
            AuditEvent::SignInFailed => "signin.failed",
            AuditEvent::SignInThrottled => "signin.throttled",
            AuditEvent::SignOut => "signout",
            AuditEvent::PasswordChanged => "password.changed",
            AuditEvent::PasswordReset => "password.reset",
            AuditEvent::PasswordResetRequested => "password.reset_requested",
            AuditEvent::SessionRevoked => "session.revoked",
            AuditEvent::SessionsRevokedAll => "sessions.revoked_all",
            AuditEvent::ProfileUpdated => "profile.updated",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|event| event.name() == name)
    }

    /// What "Recent activity" on the account page says.
    pub const fn describe(self) -> &'static str {
        match self {
            AuditEvent::SignUp => "Account created",
            AuditEvent::SignIn => "Signed in",
            AuditEvent::SignInFailed => "Failed sign-in attempt",
            AuditEvent::SignInThrottled => "Sign-in blocked after too many attempts",
            AuditEvent::SignOut => "Signed out",
            AuditEvent::PasswordChanged => "Password changed",
            AuditEvent::PasswordReset => "Password reset by email link",
            AuditEvent::PasswordResetRequested => "Password reset link requested",
            AuditEvent::SessionRevoked => "A session was signed out",
            AuditEvent::SessionsRevokedAll => "Signed out everywhere",
            AuditEvent::ProfileUpdated => "Name changed",
        }
    }

    /// Whether anyone can cause it just by naming the account's email,
    /// without its session: such events are trimmed apart from the owner's.
    pub const fn caused_by_anyone(self) -> bool {
        matches!(self, AuditEvent::SignInFailed | AuditEvent::SignInThrottled | AuditEvent::PasswordResetRequested)
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn audit_event_names_are_unique_and_read_back() {
        let mut names: Vec<&str> = AuditEvent::ALL.iter().map(|e| e.name()).collect();
        for event in AuditEvent::ALL {
            assert_eq!(AuditEvent::from_name(event.name()), Some(event));
        }
        names.sort();
        names.dedup();
        assert_eq!(names.len(), AuditEvent::ALL.len());
        assert_eq!(AuditEvent::from_name("unheard of"), None);
    }

    #[test]
    fn a_task_draft_reports_every_bad_field_at_once() {
        let draft = TaskDraft {
            title: "  ".into(),
            description: "\u{7}".into(),
            due_date: "31/12/2026".into(),
            priority: "P5".into(),
            labels: "ok, not,ok\u{1}".into(),
        };
        let fields: Vec<&str> = draft.parse().unwrap_err().iter().map(|(f, _)| *f).collect();
        assert_eq!(fields, ["title", "description", "due_date", "priority", "labels"]);
        let good = TaskDraft {
            title: " Buy milk ".into(),
            due_date: "2026-12-31".into(),
            priority: "p1".into(),
            ..Default::default()
        };
        let input = good.parse().unwrap();
        assert_eq!((input.title.as_str(), input.description, input.priority), ("Buy milk", None, Some(1)));
    }

    #[test]
    fn labels_are_trimmed_told_apart_by_case_and_capped() {
        assert_eq!(parse_labels(" Work , home,, WORK ,".split(',')), Ok(vec!["Work".to_owned(), "home".to_owned()]));
        let names: Vec<String> = (0..21).map(|n| format!("l{n}")).collect();
        assert!(parse_labels(names.iter().take(20).map(String::as_str)).is_ok());
        assert!(parse_labels(names.iter().map(String::as_str)).is_err(), "21 labels");
        assert!(parse_label_name(&"x".repeat(51)).is_err());
        assert!(parse_label_name("a,b").is_err());
    }

    #[test]
    fn repeated_parameters_are_taken_apart_from_the_rest() {
        let (labels, rest) = take_repeated("label=a&q=milk+%26&label=b%20c", "label").unwrap();
        assert_eq!((labels, rest.as_str()), (vec!["a".to_owned(), "b c".to_owned()], "q=milk+%26"));
    }

    #[test]
    fn changes_leave_absent_fields_and_refuse_a_null_title() {
        let none = TaskChangesDraft::default().parse().unwrap();
        assert_eq!(none, TaskPatch::default());
        let cleared = TaskChangesDraft { due_date: Some(None), ..Default::default() }.parse().unwrap();
        assert_eq!(cleared.due_date, Some(None));
        let bad = TaskChangesDraft { title: Some(None), completed: Some(None), ..Default::default() };
        let fields: Vec<&str> = bad.parse().unwrap_err().iter().map(|(f, _)| *f).collect();
        assert_eq!(fields, ["title", "completed"]);
    }

    #[test]
    fn status_filters_round_trip_through_their_names() {
        for status in [StatusFilter::All, StatusFilter::Active, StatusFilter::Completed] {
            assert_eq!(status.as_str().parse::<StatusFilter>(), Ok(status));
        }
        assert!("done".parse::<StatusFilter>().is_err());
    }
    use super::*;

    #[test]
    fn addresses_accepted_before_the_strict_rules_can_still_be_looked_up() {
        for legacy in ["a@b@example.com", "ann@ex\u{e4}mple.com", "a@my_host.com"] {
            assert!(Email::parse(legacy).is_err(), "{legacy:?} is not valid for a new account");
            assert_eq!(Email::for_lookup(&format!(" {} ", legacy.to_uppercase())).unwrap().as_str(), legacy);
        }
        assert!(Email::for_lookup("no-at-sign").is_err());
    }

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        assert_eq!(Email::parse("  Ann@Example.COM ").unwrap().as_str(), "ann@example.com");
    }

    #[test]
    fn emails_the_html_standard_accepts_are_accepted() {
        for good in ["a.b+tag@example.com", "o'brien@mail.example.co.uk", "x_y-z@localhost", "1@2.3", "{}~!@a-b.c"] {
            assert!(Email::parse(good).is_ok(), "{good:?} refused");
        }
    }

    #[test]
    fn malformed_or_long_emails_are_refused() {
        for bad in [
            "",
            "ann",
            "@example.com",
            "ann@",
            "a b@example.com",
            "ann@.com",
            "a@b@example.com",
            "<script>@example.com",
            "a@@b.com",
            "a@b..com",
            "a@-b.com",
            "a@b-.com",
            "ann@exämple.com",
            "\"quoted\"@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} accepted");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(Email::parse(&long).is_err());
    }

    #[test]
    fn passwords_are_8_to_1024_characters_of_anything() {
        assert!(Password::parse("1234567").is_err());
        assert!(Password::parse("12345678").is_ok());
        assert!(Password::parse("ééééééé").is_err(), "length counts characters, not bytes");
        assert!(Password::parse(&"x".repeat(1024)).is_ok());
        assert!(Password::parse(&"x".repeat(1025)).is_err());
    }

    #[test]
    fn passwords_do_not_print() {
        let password = Password::parse("correct horse").unwrap();
        assert!(!format!("{password:?}").contains("horse"));
    }

    #[test]
    fn titles_are_trimmed_bounded_and_free_of_control_characters() {
        assert_eq!(TaskTitle::parse("  Buy milk ").unwrap().into_inner(), "Buy milk");
        assert!(TaskTitle::parse("   ").is_err());
        assert!(TaskTitle::parse(&"x".repeat(256)).is_err());
        assert!(TaskTitle::parse(&"ü".repeat(255)).is_ok());
        assert!(TaskTitle::parse("bell\u{7}").is_err());
    }

    #[test]
    fn due_dates_are_iso_dates_or_blank() {
        assert_eq!(parse_due_date(Some("")).unwrap(), None);
        assert!(parse_due_date(Some("2026-02-30")).is_err());
        assert!(parse_due_date(Some("tomorrow")).is_err());
        assert!(parse_due_date(Some("-5000-01-01")).is_err());
        assert!(parse_due_date(Some("0000-01-01")).is_err());
        assert!(parse_due_date(Some("+10000-01-01")).is_err());
        assert!(parse_due_date(Some("2026-12-31")).unwrap().is_some());
    }

    #[test]
    fn descriptions_keep_line_breaks_but_not_other_control_characters() {
        assert_eq!(parse_description(Some("a\r\nb")).unwrap().as_deref(), Some("a\nb"));
        assert!(parse_description(Some("a\u{0}b")).is_err());
        assert!(parse_description(Some(&"x".repeat(10_001))).is_err());
    }
}
