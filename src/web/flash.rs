//! Messages after an action: "Deleted “Buy milk”. Undo". With htmx the
//! message comes inside the list fragment the action answers with; a plain
//! form post redirects, so the message waits in a short-lived cookie for the
//! page it redirects to, which shows it once.
//!
//! The cookie holds only what kind of message it is and the deletion id —
//! never text — and the page looks the deletion up under the signed-in
//! owner, so a cookie can show nothing that is not theirs.

use tower_cookies::{Cookie, Cookies};

use crate::auth::cookies::cookie;
use uuid::Uuid;

use crate::{
    app::AppState,
    db::{
        self,
        tasks::{self, Deletion},
    },
};

const FLASH_COOKIE: &str = "doable_flash";

/// What happened, worth telling the user on screen.
#[derive(Debug)]
pub enum Flash {
    /// Tasks were deleted; they can be brought back for a while.
    Deleted(Deletion),
    /// An Undo brought these tasks back.
    Restored { count: i64, title: Option<String> },
    /// An Undo came after the window closed (or named nothing of theirs).
    TooLate,
    /// Any other action: what was done, in words that hold no task's title
    /// (with htmx the list shows the fuller sentence instead).
    Done(Done),
}

/// The plain actions, for their on-screen confirmation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Done {
    Added,
    Saved,
    Completed,
    Reopened,
    MarkedAll,
    NothingToChange,
    NothingToClear,
    Moved,
}

impl Done {
    const ALL: [(Done, &'static str, &'static str); 8] = [
        (Done::Added, "added", "Task added."),
        (Done::Saved, "saved", "Task saved."),
        (Done::Completed, "done", "Marked as done."),
        (Done::Reopened, "undone", "Marked as not done."),
        (Done::MarkedAll, "all", "Tasks updated."),
        (Done::NothingToChange, "nothing", "Nothing to change."),
        (Done::NothingToClear, "noclear", "There are no completed tasks to clear."),
        (Done::Moved, "moved", "Task moved."),
    ];

    fn key(self) -> &'static str {
        Self::ALL.iter().find(|(done, ..)| *done == self).map_or("nothing", |(_, key, _)| key)
    }

    fn text(self) -> &'static str {
        Self::ALL.iter().find(|(done, ..)| *done == self).map_or("Done.", |(.., text)| text)
    }

    fn from_key(key: &str) -> Option<Done> {
        Self::ALL.iter().find(|(_, k, _)| *k == key).map(|(done, ..)| *done)
    }
}

/// A message as a page shows it (the task list with its Undo button).
#[derive(Clone, Debug)]
pub struct Notice {
    pub text: String,
    /// The deletion an Undo button restores.
    pub undo: Option<Uuid>,
    /// How long the Undo button works; the script hides it then.
    pub seconds_left: i64,
}

impl Notice {
    /// A plain message, with nothing to undo.
    pub fn say(text: &str) -> Self {
        Notice { text: text.to_owned(), undo: None, seconds_left: 0 }
    }
}

fn quoted(title: &str) -> String {
    format!("“{title}”")
}

impl Flash {
    pub fn notice(&self) -> Notice {
        match self {
            Flash::Deleted(deletion) => Notice {
                text: match &deletion.title {
                    Some(title) => format!("Deleted {}.", quoted(title)),
                    None => format!("Deleted {} tasks.", deletion.count),
                },
                undo: Some(deletion.batch),
                seconds_left: deletion.seconds_left(db::now()),
            },
            Flash::Restored { count, title } => Notice {
                text: match title {
                    Some(title) => format!("Restored {}.", quoted(title)),
                    None if *count == 1 => "Restored the task.".into(),
                    None => format!("Restored {count} tasks."),
                },
                undo: None,
                seconds_left: 0,
            },
            Flash::TooLate => {
                Notice { text: "Too late to undo: that deletion is final.".into(), undo: None, seconds_left: 0 }
            }
            Flash::Done(done) => Notice { text: done.text().into(), undo: None, seconds_left: 0 },
        }
    }

    /// Keeps the flash for the page a plain form post redirects to.
    pub fn store(&self, cookies: &Cookies, state: &AppState) {
        let value = match self {
            Flash::Deleted(deletion) => format!("undo:{}", deletion.batch),
            // The title stays out of the cookie; the restored task is in plain sight.
            Flash::Restored { count, .. } => format!("restored:{count}"),
            Flash::TooLate => "late".into(),
            Flash::Done(done) => format!("done:{}", done.key()),
        };
        cookies.add(cookie(&state.config, FLASH_COOKIE, value).max_age(time::Duration::minutes(1)).build());
    }

    /// The flash a redirect left for this page, shown once: it is cleared here.
    pub async fn take(cookies: &Cookies, state: &AppState, owner: Uuid) -> Result<Option<Flash>, db::DbError> {
        let Some(cookie) = cookies.get(FLASH_COOKIE) else { return Ok(None) };
        let value = cookie.value().to_owned();
        cookies.remove(Cookie::build(FLASH_COOKIE).path("/").build());
        Ok(match value.split_once(':') {
            Some(("undo", batch)) => match Uuid::parse_str(batch) {
                Ok(batch) => tasks::deletion(state.db.for_user(owner), batch).await?.map(Flash::Deleted),
                Err(_) => None,
            },
            Some(("restored", count)) => {
                count.parse().ok().filter(|n| *n > 0).map(|count| Flash::Restored { count, title: None })
            }
            Some(("done", key)) => Done::from_key(key).map(Flash::Done),
            _ if value == "late" => Some(Flash::TooLate),
            _ => None,
        })
    }
}
