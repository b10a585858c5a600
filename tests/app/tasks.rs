//! The task pages, with and without htmx, and isolation between users.

use doable::db::Db;
use reqwest::StatusCode;

use crate::common::{Browser, TestApp};

crate::on_both_backends!(
    the_form_and_the_json_body_get_the_same_verdicts,
    the_counts_row_matches_the_tasks_after_every_kind_of_change,
    a_task_is_created_listed_edited_toggled_and_deleted_without_javascript,
    with_htmx_each_action_answers_with_the_list_fragment,
    an_untitled_task_is_422_with_a_message_beside_the_field,
    an_invalid_edit_is_422_and_changes_nothing,
    filters_search_and_counts_show_the_right_tasks,
    the_list_pages_by_50_with_newer_and_older_links,
    overdue_tasks_are_marked,
    a_script_in_a_title_is_shown_as_text,
    another_users_task_is_not_found_on_every_route_and_stays_unchanged,
    a_task_id_that_is_not_a_number_is_not_found,
    every_action_is_confirmed_on_screen_with_and_without_javascript,
    search_folds_unicode_and_survives_control_characters,
    dates_outside_years_1_to_9999_are_refused,
    unreadable_forms_and_queries_get_a_friendly_400,
    the_full_edit_page_posts_as_a_plain_form,
    toggle_all_marks_every_task_done_then_every_task_not_done,
    a_deleted_task_can_be_undone_after_a_plain_form_post,
    a_deleted_task_can_be_undone_with_htmx,
    clear_completed_removes_only_completed_tasks_and_undo_brings_them_all_back,
    a_deleted_task_is_hidden_everywhere_until_undone,
    a_deletion_past_the_undo_window_is_final_and_purged,
    housekeeping_forgets_old_deletions_and_expired_sessions_of_every_user,
    housekeeping_deletes_a_backlog_in_bounded_batches_until_none_is_left,
    nobody_can_undo_another_users_deletion,
    the_new_actions_refuse_a_missing_csrf_token,
);

async fn a_task_is_created_listed_edited_toggled_and_deleted_without_javascript(app: TestApp) {
    let browser = app.signed_in().await;
    browser.get("/tasks").await;
    let created = browser
        .post("/tasks", &[("title", "Buy milk"), ("description", "Oat, two litres"), ("due_date", "2031-01-02")])
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER);
    assert_eq!(created.location(), "/tasks");

    let list = browser.get("/tasks").await;
    assert!(list.body.contains("Buy milk") && list.body.contains("Oat, two litres"));
    assert!(list.body.contains(r#"datetime="2031-01-02""#));
    let id = list.task_ids()[0];

    let edit = browser.get(&format!("/tasks/{id}/edit?status=active")).await;
    assert_eq!(edit.status, StatusCode::OK);
    assert!(edit.body.contains(r#"value="Buy milk""#));
    let saved = browser
        .post(
            &format!("/tasks/{id}"),
            &[("title", "Buy oat milk"), ("description", ""), ("due_date", ""), ("back", "status=active")],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    assert_eq!(saved.location(), "/tasks?status=active", "back to the list it came from");
    let list = browser.get("/tasks").await;
    assert!(list.body.contains("Buy oat milk") && !list.body.contains("Oat, two litres"));

    let toggled = browser.post(&format!("/tasks/{id}/toggle"), &[("back", "")]).await;
    assert_eq!(toggled.status, StatusCode::SEE_OTHER);
    assert_eq!(browser.get("/tasks?status=completed").await.task_ids(), vec![id]);
    browser.post(&format!("/tasks/{id}/toggle"), &[]).await;
    assert_eq!(browser.get("/tasks?status=active").await.task_ids(), vec![id]);

    let deleted = browser.post(&format!("/tasks/{id}/delete"), &[]).await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER);
    assert!(browser.get("/tasks").await.task_ids().is_empty());
    assert_eq!(browser.post(&format!("/tasks/{id}/delete"), &[]).await.status, StatusCode::NOT_FOUND);
}

async fn with_htmx_each_action_answers_with_the_list_fragment(app: TestApp) {
    let browser = app.signed_in().await;
    browser.get("/tasks").await;
    let is_fragment = |body: &str| body.starts_with(r#"<section id="tasks""#) && !body.contains("<html");

    let created = browser.post_htmx("/tasks", &[("title", "Water plants")]).await;
    assert_eq!(created.status, StatusCode::OK);
    assert!(is_fragment(&created.body), "{}", created.body);
    assert!(created.body.contains("Water plants"));
    let id = created.task_ids()[0];

    let edit = browser.get_htmx(&format!("/tasks/{id}/edit")).await;
    assert!(edit.body.starts_with(&format!(r#"<li id="task-{id}" class="task editing">"#)), "{}", edit.body);

    let saved = browser.post_htmx(&format!("/tasks/{id}"), &[("title", "Water the plants"), ("completed", "on")]).await;
    assert!(is_fragment(&saved.body) && saved.body.contains("Water the plants"));
    assert!(saved.body.contains("<strong>1</strong> completed"), "{}", saved.body);

    let toggled = browser.post_htmx(&format!("/tasks/{id}/toggle"), &[("back", "status=completed")]).await;
    assert!(is_fragment(&toggled.body));
    assert!(toggled.task_ids().is_empty(), "the now-active task leaves the completed view");

    let listed = browser.get_htmx("/tasks?status=active").await;
    assert!(is_fragment(&listed.body) && listed.task_ids() == vec![id]);

    let deleted = browser.post_htmx(&format!("/tasks/{id}/delete"), &[]).await;
    assert!(is_fragment(&deleted.body) && deleted.task_ids().is_empty());
}

async fn an_untitled_task_is_422_with_a_message_beside_the_field(app: TestApp) {
    let browser = app.signed_in().await;
    browser.get("/tasks").await;
    let page =
        browser.post("/tasks", &[("title", "   "), ("description", "keep me"), ("due_date", "2026-02-30")]).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("Give the task a title."));
    assert!(page.body.contains("Use a date like 2026-12-31."));
    assert!(page.body.contains(">keep me</textarea>"), "what was typed is kept");

    let fragment = browser.post_htmx("/tasks", &[("title", "")]).await;
    assert_eq!(fragment.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fragment.headers.get("hx-retarget").unwrap(), "#new-task");
    assert!(fragment.body.starts_with("<form id=\"new-task\""), "{}", fragment.body);
    assert!(browser.get("/tasks").await.task_ids().is_empty());

    let long = "x".repeat(256);
    assert_eq!(browser.post("/tasks", &[("title", &long)]).await.status, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn an_invalid_edit_is_422_and_changes_nothing(app: TestApp) {
    let browser = app.signed_in().await;
    let id = browser.create_task("Original").await;
    let page = browser.post(&format!("/tasks/{id}"), &[("title", "")]).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("Give the task a title."));
    let fragment = browser.post_htmx(&format!("/tasks/{id}"), &[("title", "\u{7}")]).await;
    assert_eq!(fragment.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fragment.headers.get("hx-retarget").unwrap().to_str().unwrap(), format!("#task-{id}"));
    assert!(browser.get("/tasks").await.body.contains("Original"));
}

async fn filters_search_and_counts_show_the_right_tasks(app: TestApp) {
    let browser = app.signed_in().await;
    let milk = browser.create_task("Buy milk").await;
    let call = browser.create_task("Call the bank").await;
    browser.get("/tasks").await;
    browser.post("/tasks", &[("title", "Plan trip"), ("description", "Book MILK-free hotel, 100% sure")]).await;
    let trip = browser.get("/tasks").await.task_ids()[0];
    browser.post(&format!("/tasks/{call}/toggle"), &[]).await;

    let all = browser.get("/tasks").await;
    assert_eq!(all.task_ids(), vec![trip, call, milk], "newest first");
    assert!(all.body.contains("<strong>2</strong> items left"));
    assert!(all.body.contains("<strong>1</strong> completed"));
    assert_eq!(browser.get("/tasks?status=active").await.task_ids(), vec![trip, milk]);
    assert_eq!(browser.get("/tasks?status=completed").await.task_ids(), vec![call]);
    assert_eq!(browser.get("/tasks?q=milk").await.task_ids(), vec![trip, milk], "title and description");
    assert_eq!(browser.get("/tasks?q=milk&status=completed").await.task_ids(), Vec::<i64>::new());
    assert_eq!(browser.get("/tasks?q=100%25").await.task_ids(), vec![trip], "% is literal");
    assert_eq!(browser.get("/tasks?q=1_0").await.task_ids(), Vec::<i64>::new(), "_ is literal");
    assert_eq!(browser.get("/tasks?status=bogus&page=x").await.status, StatusCode::OK);
}

async fn the_list_pages_by_50_with_newer_and_older_links(app: TestApp) {
    let browser = app.signed_in().await;
    browser.get("/tasks").await;
    for n in 1..=120 {
        browser.post_htmx("/tasks", &[("title", &format!("Task {n}"))]).await;
    }
    let mut seen = Vec::new();
    let mut page = browser.get("/tasks").await;
    let mut pages = 0;
    loop {
        pages += 1;
        let ids = page.task_ids();
        assert!(ids.len() <= 50);
        seen.extend(ids);
        let Some(older) = next_link(&page.body, "next") else { break };
        let newer = browser.get(&older).await;
        assert!(next_link(&newer.body, "prev").is_some(), "a later page links back");
        page = newer;
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 120);
    let mut sorted = seen.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    sorted.dedup();
    assert_eq!(sorted, seen, "every task once, newest first");

    // Back from page 3 to page 2 shows the same tasks as before.
    let prev = next_link(&page.body, "prev").unwrap();
    let second = browser.get(&prev).await;
    assert_eq!(second.task_ids(), seen[50..100].to_vec());
    // A bare page number works too.
    assert_eq!(browser.get("/tasks?page=2").await.task_ids(), seen[50..100].to_vec());
}

fn next_link(html: &str, rel: &str) -> Option<String> {
    let marker = format!(r#"<a rel="{rel}" href=""#);
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].replace("&amp;", "&").replace("&#38;", "&"))
}

async fn overdue_tasks_are_marked(app: TestApp) {
    let browser = app.signed_in().await;
    browser.get("/tasks").await;
    browser.post("/tasks", &[("title", "Renew passport"), ("due_date", "2020-01-01")]).await;
    let page = browser.get("/tasks").await;
    assert!(page.body.contains(r#"class="due overdue""#), "{}", page.body);
    assert!(page.body.contains("days overdue"));
}

async fn a_script_in_a_title_is_shown_as_text(app: TestApp) {
    let browser = app.signed_in().await;
    browser.create_task("<script>alert(1)</script>").await;
    let page = browser.get("/tasks").await;
    assert!(!page.body.contains("<script>alert(1)</script>"));
    assert!(page.body.contains("&#60;script&#62;alert(1)&#60;/script&#62;") || page.body.contains("&lt;script&gt;"));
}

async fn another_users_task_is_not_found_on_every_route_and_stays_unchanged(app: TestApp) {
    let alice = app.signed_in().await;
    let id = alice.create_task("Alice's secret").await;
    let before = alice.get("/tasks").await.body;

    let bob: Browser = app.signed_in().await;
    bob.get("/tasks").await;
    let missing = 9_999_999;
    for task in [id, missing] {
        let edit = bob.get(&format!("/tasks/{task}/edit")).await;
        assert_eq!(edit.status, StatusCode::NOT_FOUND, "edit {task}");
        for (path, form) in [
            (format!("/tasks/{task}"), vec![("title", "pwned"), ("completed", "on")]),
            (format!("/tasks/{task}"), vec![("title", "")]),
            (format!("/tasks/{task}/toggle"), vec![]),
            (format!("/tasks/{task}/delete"), vec![]),
        ] {
            let plain = bob.post(&path, &form).await;
            assert_eq!(plain.status, StatusCode::NOT_FOUND, "POST {path} {form:?}");
            let htmx = bob.post_htmx(&path, &form).await;
            assert_eq!(htmx.status, StatusCode::NOT_FOUND, "htmx POST {path}");
        }
        assert_eq!(bob.get_htmx(&format!("/tasks/{task}/edit")).await.status, StatusCode::NOT_FOUND);
    }
    assert!(!bob.get("/tasks?q=secret").await.body.contains("Alice's secret"));
    // The same answer for someone else's id and a missing one: nothing to tell them apart.
    assert_eq!(bob.get(&format!("/tasks/{id}/edit")).await.body, bob.get(&format!("/tasks/{missing}/edit")).await.body);

    let after = alice.get("/tasks").await.body;
    assert_eq!(strip_tokens(&before), strip_tokens(&after), "Alice's list is unchanged");
}

fn strip_tokens(html: &str) -> String {
    html.lines().filter(|l| !l.contains("csrf") && !l.contains("X-CSRF-Token")).collect()
}

async fn a_task_id_that_is_not_a_number_is_not_found(app: TestApp) {
    let browser = app.signed_in().await;
    browser.get("/tasks").await;
    assert_eq!(browser.get("/tasks/abc/edit").await.status, StatusCode::NOT_FOUND);
    assert_eq!(browser.post("/tasks/-1/toggle", &[]).await.status, StatusCode::NOT_FOUND);
    assert_eq!(browser.post("/tasks/99999999999999999999/delete", &[]).await.status, StatusCode::NOT_FOUND);
}

async fn search_folds_unicode_and_survives_control_characters(app: TestApp) {
    let browser = app.signed_in().await;
    let id = browser.create_task("Écrire à Ørjan").await;
    assert_eq!(browser.get("/tasks?q=%C3%A9crire").await.task_ids(), vec![id], "écrire finds Écrire");
    assert_eq!(browser.get("/tasks?q=%C3%98RJAN").await.task_ids(), vec![id], "ØRJAN finds Ørjan");
    let nul = browser.get("/tasks?q=%00").await;
    assert_eq!(nul.status, StatusCode::OK);
    let htmx = browser.post_htmx(&format!("/tasks/{id}/toggle"), &[("back", "q=%00%01")]).await;
    assert_eq!(htmx.status, StatusCode::OK);
}

async fn dates_outside_years_1_to_9999_are_refused(app: TestApp) {
    let browser = app.signed_in().await;
    browser.get("/tasks").await;
    for date in ["-5000-01-01", "0000-12-31", "+10000-01-01"] {
        let page = browser.post("/tasks", &[("title", "Far off"), ("due_date", date)]).await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{date}");
    }
    assert!(browser.get("/tasks").await.task_ids().is_empty());
}

async fn unreadable_forms_and_queries_get_a_friendly_400(app: TestApp) {
    let browser = app.signed_in().await;
    let page = browser.get("/tasks?status=active&status=completed").await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("<h1>That did not work</h1>"), "{}", page.body);
    browser.get("/tasks").await;
    let page = browser.post("/tasks", &[("title", "one"), ("title", "two")]).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(!page.body.contains("Failed to deserialize"));
    assert!(browser.get("/tasks").await.task_ids().is_empty());
}

async fn the_full_edit_page_posts_as_a_plain_form(app: TestApp) {
    let browser = app.signed_in().await;
    let id = browser.create_task("Edit me").await;
    let page = browser.get(&format!("/tasks/{id}/edit")).await;
    // The full page has no #tasks to swap into, so its form must not be an htmx one.
    assert!(!page.body.contains("hx-target=\"#tasks\""), "{}", page.body);
    // Deleting is here, not on the list's rows (decision 0023), and a cleared title does not block it.
    let delete = format!("formaction=\"/tasks/{id}/delete\" formnovalidate");
    assert!(page.body.contains(&delete), "{}", page.body);
    assert!(!browser.get("/tasks").await.body.contains(&format!("/tasks/{id}/delete")), "no Delete on the row");
    // Inline, Edit (a boosted link of the list) answers with its form for the one item, in place,
    // and no history entry.
    let inline = browser.get_htmx(&format!("/tasks/{id}/edit")).await;
    assert!(inline.body.contains("hx-target=\"#tasks\"") && inline.body.contains(&delete));
    assert!(inline.body.starts_with(&format!("<li id=\"task-{id}\"")), "{}", inline.body);
    let header = |name| inline.headers.get(name).and_then(|v| v.to_str().ok());
    assert_eq!(header("hx-retarget"), Some(format!("#task-{id}").as_str()));
    assert_eq!(header("hx-reswap"), Some("outerHTML"));
    assert_eq!(header("hx-push-url"), Some("false"));
}

/// The Undo form's deletion id on a page, if it offers one.
pub fn undo_batch(html: &str) -> Option<String> {
    let marker = r#"name="batch" value=""#;
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

async fn toggle_all_marks_every_task_done_then_every_task_not_done(app: TestApp) {
    let browser = app.signed_in().await;
    let first = browser.create_task("First").await;
    browser.create_task("Second").await;
    browser.post(&format!("/tasks/{first}/toggle"), &[]).await;

    let page = browser.get("/tasks").await;
    assert!(page.body.contains("Mark all as done"), "{}", page.body);
    let done = browser.post("/tasks/toggle-all", &[("completed", "true"), ("back", "status=active")]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(done.location(), "/tasks?status=active");
    let page = browser.get("/tasks").await;
    assert!(page.body.contains("<strong>0</strong> items left") && page.body.contains("<strong>2</strong> completed"));
    assert!(page.body.contains("Mark all as not done"));

    let fragment = browser.post_htmx("/tasks/toggle-all", &[("completed", "false")]).await;
    assert_eq!(fragment.status, StatusCode::OK);
    assert!(fragment.body.starts_with(r#"<section id="tasks""#), "{}", fragment.body);
    assert!(fragment.body.contains("<strong>2</strong> items left"));
    assert!(fragment.body.contains(r#"data-announce="Marked 2 tasks as not done.""#), "{}", fragment.body);

    // Without a choice it behaves like TodoMVC's toggle: all done unless all are.
    browser.post("/tasks/toggle-all", &[]).await;
    assert!(browser.get("/tasks").await.body.contains("<strong>2</strong> completed"));
    browser.post("/tasks/toggle-all", &[]).await;
    assert!(browser.get("/tasks").await.body.contains("<strong>2</strong> items left"));
}

async fn a_deleted_task_can_be_undone_after_a_plain_form_post(app: TestApp) {
    let browser = app.signed_in().await;
    let id = browser.create_task("Water plants").await;
    let deleted = browser.post(&format!("/tasks/{id}/delete"), &[("back", "status=active")]).await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER);
    assert_eq!(deleted.location(), "/tasks?status=active");
    // Only the page that shows the flash spends it: other pages on the way
    // (the account page, say) leave it for the list.
    assert_eq!(browser.get("/account").await.status, StatusCode::OK);

    let page = browser.get("/tasks?status=active").await;
    assert!(page.task_ids().is_empty());
    assert!(page.body.contains("Deleted “Water plants”."), "the flash follows the redirect: {}", page.body);
    let batch = undo_batch(&page.body).expect("an Undo form");
    assert!(undo_batch(&browser.get("/tasks").await.body).is_none(), "the flash is shown once");

    let undone = browser.post("/tasks/undo", &[("batch", &batch), ("back", "status=active")]).await;
    assert_eq!(undone.status, StatusCode::SEE_OTHER);
    assert_eq!(undone.location(), "/tasks?status=active");
    let page = browser.get("/tasks").await;
    assert_eq!(page.task_ids(), vec![id], "the same task is back");
    assert!(page.body.contains("Restored the task."), "{}", page.body);

    browser.post("/tasks/undo", &[("batch", &batch)]).await;
    let page = browser.get("/tasks").await;
    assert!(page.body.contains("Too late to undo"), "an undo works once: {}", page.body);
    assert_eq!(page.task_ids(), vec![id]);
}

async fn a_deleted_task_can_be_undone_with_htmx(app: TestApp) {
    let browser = app.signed_in().await;
    let id = browser.create_task("Call mum").await;
    let deleted = browser.post_htmx(&format!("/tasks/{id}/delete"), &[]).await;
    assert_eq!(deleted.status, StatusCode::OK);
    assert!(deleted.task_ids().is_empty());
    assert!(deleted.body.contains("Deleted “Call mum”."));
    assert!(deleted.body.contains(r#"data-announce="Deleted “Call mum”. Undo is available.""#), "{}", deleted.body);
    let batch = undo_batch(&deleted.body).expect("an Undo form");

    let undone = browser.post_htmx("/tasks/undo", &[("batch", &batch)]).await;
    assert_eq!(undone.status, StatusCode::OK);
    assert_eq!(undone.task_ids(), vec![id]);
    assert!(undone.body.contains("Restored “Call mum”."));
}

async fn clear_completed_removes_only_completed_tasks_and_undo_brings_them_all_back(app: TestApp) {
    let browser = app.signed_in().await;
    let a = browser.create_task("A").await;
    let b = browser.create_task("B").await;
    let c = browser.create_task("C").await;
    browser.post(&format!("/tasks/{a}/toggle"), &[]).await;
    browser.post(&format!("/tasks/{c}/toggle"), &[]).await;
    assert!(browser.get("/tasks").await.body.contains("Clear completed (2)"));

    let cleared = browser.post("/tasks/clear-completed", &[("back", "q=x")]).await;
    assert_eq!(cleared.status, StatusCode::SEE_OTHER);
    assert_eq!(cleared.location(), "/tasks?q=x");
    let page = browser.get("/tasks").await;
    assert_eq!(page.task_ids(), vec![b]);
    assert!(page.body.contains("Deleted 2 tasks."), "{}", page.body);
    assert!(!page.body.contains("Clear completed"), "nothing left to clear");

    let batch = undo_batch(&page.body).unwrap();
    let undone = browser.post_htmx("/tasks/undo", &[("batch", &batch)]).await;
    assert_eq!(undone.task_ids(), vec![c, b, a]);
    assert!(undone.body.contains("Restored 2 tasks."));
    assert!(undone.body.contains("<strong>2</strong> completed"));

    let nothing = browser.post_htmx("/tasks/toggle-all", &[("completed", "false")]).await;
    assert_eq!(nothing.status, StatusCode::OK);
    let none = browser.post_htmx("/tasks/clear-completed", &[]).await;
    assert_eq!(none.status, StatusCode::OK);
    assert_eq!(none.task_ids(), vec![c, b, a]);
    assert!(undo_batch(&none.body).is_none(), "no Undo for nothing");
}

async fn a_deleted_task_is_hidden_everywhere_until_undone(app: TestApp) {
    let browser = app.signed_in().await;
    let id = browser.create_task("Hidden").await;
    browser.post(&format!("/tasks/{id}/toggle"), &[]).await;
    let deleted = browser.post_htmx(&format!("/tasks/{id}/delete"), &[]).await;
    let batch = undo_batch(&deleted.body).unwrap();

    assert!(browser.get("/tasks?status=completed&q=hidden").await.task_ids().is_empty());
    let page = browser.get("/tasks").await;
    assert!(page.body.contains("<strong>0</strong> completed"), "not counted");
    assert_eq!(browser.get(&format!("/tasks/{id}/edit")).await.status, StatusCode::NOT_FOUND);
    for path in [format!("/tasks/{id}"), format!("/tasks/{id}/toggle"), format!("/tasks/{id}/delete")] {
        assert_eq!(browser.post(&path, &[("title", "changed")]).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    // Toggle all and clear completed leave it alone too.
    browser.post("/tasks/toggle-all", &[("completed", "false")]).await;
    browser.post("/tasks/clear-completed", &[]).await;

    browser.post("/tasks/undo", &[("batch", &batch)]).await;
    let page = browser.get("/tasks?status=completed").await;
    assert_eq!(page.task_ids(), vec![id], "restored as it was: completed, titled Hidden");
    assert!(page.body.contains("Hidden"));
}

/// Moves the deletion of the task with this (unique) title back in time, as
/// if the undo window had passed. Only that row: other tests share the database.
async fn age_deletion(db: &Db, title: &str, seconds: i64) {
    let then = time::OffsetDateTime::now_utc().replace_nanosecond(0).unwrap() - time::Duration::seconds(seconds);
    let sql = "UPDATE tasks SET deleted_at = $1 WHERE deleted_at IS NOT NULL AND title = $2";
    let aged = doable::on_pool!(db, pool => sqlx::query(sql).bind(then).bind(title).execute(pool).await.unwrap().rows_affected());
    assert!(aged > 0, "nothing deleted to age");
}

async fn count_rows(db: &Db, title: &str) -> i64 {
    let sql = "SELECT count(*) FROM tasks WHERE title = $1";
    doable::on_pool!(db, pool => sqlx::query_scalar(sql).bind(title).fetch_one(pool).await.unwrap())
}

async fn a_deletion_past_the_undo_window_is_final_and_purged(app: TestApp) {
    let browser = app.signed_in().await;
    let title = format!("Old {}", uuid::Uuid::new_v4());
    let id = browser.create_task(&title).await;
    let deleted = browser.post_htmx(&format!("/tasks/{id}/delete"), &[]).await;
    let batch = undo_batch(&deleted.body).unwrap();
    assert_eq!(count_rows(&app.unrestricted, &title).await, 1, "kept, hidden, while it can be undone");

    age_deletion(&app.unrestricted, &title, 31).await;
    let late = browser.post_htmx("/tasks/undo", &[("batch", &batch)]).await;
    assert_eq!(late.status, StatusCode::OK);
    assert!(late.task_ids().is_empty());
    assert!(late.body.contains("Too late to undo"));

    // The owner's next deletion purges what can no longer be undone.
    let other = browser.create_task("Another").await;
    browser.post(&format!("/tasks/{other}/delete"), &[]).await;
    assert_eq!(count_rows(&app.unrestricted, &title).await, 0, "purged");
}

/// The hourly housekeeping reaches every user's expired rows, although on
/// PostgreSQL the app's role sees no user's rows outside that user's
/// transaction: it goes through a function of migration 0003.
async fn housekeeping_forgets_old_deletions_and_expired_sessions_of_every_user(app: TestApp) {
    let email = crate::common::unique_email();
    let browser = app.browser();
    browser.sign_up(&email, crate::common::PASSWORD).await;
    let title = format!("Long gone {}", uuid::Uuid::new_v4());
    let id = browser.create_task(&title).await;
    browser.post(&format!("/tasks/{id}/delete"), &[]).await;
    age_deletion(&app.unrestricted, &title, 2 * 86_400).await;
    let sessions = "SELECT count(*) FROM sessions WHERE user_id = (SELECT id FROM users WHERE email = $1)";
    let count_sessions = || async {
        doable::on_pool!(&app.unrestricted, pool => {
            sqlx::query_scalar::<_, i64>(sessions).bind(&email).fetch_one(pool).await.unwrap()
        })
    };
    assert_eq!(count_sessions().await, 1);
    let expire = "UPDATE sessions SET expires_at = $1 WHERE user_id = (SELECT id FROM users WHERE email = $2)";
    let past = time::OffsetDateTime::now_utc().replace_nanosecond(0).unwrap() - time::Duration::days(2);
    doable::on_pool!(&app.unrestricted, pool => {
        sqlx::query(expire).bind(past).bind(&email).execute(pool).await.unwrap();
    });

    doable::db::housekeeping::purge(&app.db, time::Duration::days(1)).await.expect("purge through the app's pool");
    assert_eq!(count_rows(&app.unrestricted, &title).await, 0, "the old deletion is gone");
    assert_eq!(count_sessions().await, 0, "the expired session is gone");
}

async fn nobody_can_undo_another_users_deletion(app: TestApp) {
    let alice = app.signed_in().await;
    let id = alice.create_task("Alice's plan").await;
    let deleted = alice.post_htmx(&format!("/tasks/{id}/delete"), &[]).await;
    let batch = undo_batch(&deleted.body).unwrap();

    let bob = app.signed_in().await;
    bob.get("/tasks").await;
    let attempt = bob.post_htmx("/tasks/undo", &[("batch", &batch)]).await;
    assert_eq!(attempt.status, StatusCode::OK, "the same answer as a batch that never existed");
    assert!(attempt.body.contains("Too late to undo") && !attempt.body.contains("Alice"));
    assert!(bob.get("/tasks").await.task_ids().is_empty());
    let garbage = bob.post("/tasks/undo", &[("batch", "not-a-uuid")]).await;
    assert_eq!(garbage.status, StatusCode::SEE_OTHER);

    assert!(alice.get("/tasks").await.task_ids().is_empty(), "still deleted");
    alice.post("/tasks/undo", &[("batch", &batch)]).await;
    assert_eq!(alice.get("/tasks").await.task_ids(), vec![id]);
}

async fn the_new_actions_refuse_a_missing_csrf_token(app: TestApp) {
    let browser = app.signed_in().await;
    let id = browser.create_task("Guarded").await;
    browser.post(&format!("/tasks/{id}/toggle"), &[]).await;
    for path in ["/tasks/toggle-all", "/tasks/clear-completed", "/tasks/undo"] {
        let page = browser.post_raw(path, &[("completed", "false")], &[]).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(browser.get("/tasks?status=completed").await.task_ids(), vec![id], "nothing changed");
}

async fn every_action_is_confirmed_on_screen_with_and_without_javascript(app: TestApp) {
    let browser = app.signed_in().await;
    browser.get("/tasks").await;
    let flash = |body: &str| {
        let start = body.find(r#"<span class="flash-text">"#)? + r#"<span class="flash-text">"#.len();
        Some(body[start..start + body[start..].find('<')?].to_owned())
    };

    // Without JavaScript: the redirect's page shows it once.
    browser.post("/tasks", &[("title", "Water plants")]).await;
    let page = browser.get("/tasks").await;
    assert_eq!(flash(&page.body).as_deref(), Some("Task added."));
    assert_eq!(flash(&browser.get("/tasks").await.body), None, "shown once");
    let id = page.task_ids()[0];
    browser.post(&format!("/tasks/{id}/toggle"), &[]).await;
    assert_eq!(flash(&browser.get("/tasks").await.body).as_deref(), Some("Marked as done."));
    browser.post(&format!("/tasks/{id}"), &[("title", "Water all plants")]).await;
    assert_eq!(flash(&browser.get("/tasks").await.body).as_deref(), Some("Task saved."));

    // With htmx: the fragment carries the full sentence. (The edit above sent
    // no `completed`, so the task is active again.)
    let added = browser.post_htmx("/tasks", &[("title", "Feed the cat")]).await;
    assert_eq!(flash(&added.body).as_deref(), Some("Added “Feed the cat”."));
    let toggled = browser.post_htmx(&format!("/tasks/{id}/toggle"), &[]).await;
    assert_eq!(flash(&toggled.body).as_deref(), Some("Marked “Water all plants” as done."));
}

/// One parser per input: the same good and bad task fields, sent as a form
/// and as JSON, are accepted or refused alike, with the same messages on
/// the same fields.
async fn the_form_and_the_json_body_get_the_same_verdicts(app: TestApp) {
    let long_title = "t".repeat(256);
    let long_description = "d".repeat(10_001);
    let cases: Vec<(&str, &str, &str, &[&str])> = vec![
        ("Buy milk", "", "", &[]),
        ("  Buy milk  ", "two\nlines\twith a tab", "2026-12-31", &[]),
        ("", "", "", &["title"]),
        ("   ", "", "", &["title"]),
        (&long_title, "", "", &["title"]),
        ("bell\u{7}", "", "", &["title"]),
        ("ok", &long_description, "", &["description"]),
        ("ok", "bell\u{7}", "", &["description"]),
        ("ok", "", "2026-02-30", &["due_date"]),
        ("ok", "", "31/12/2026", &["due_date"]),
        ("ok", "", "10000-01-01", &["due_date"]),
        ("", &long_description, "nope", &["title", "description", "due_date"]),
    ];
    let browser = app.signed_in().await;
    let (api, _) = crate::api::Api::signed_up(&app).await;
    for (title, description, due_date, bad) in cases {
        let json = api
            .post("/tasks", serde_json::json!({"title": title, "description": description, "due_date": due_date}))
            .await;
        browser.get("/tasks").await;
        let page =
            browser.post("/tasks", &[("title", title), ("description", description), ("due_date", due_date)]).await;
        let case = format!("{title:.20?} {description:.20?} {due_date:?}");
        if bad.is_empty() {
            assert_eq!(json.status, StatusCode::CREATED, "{case}: {:?}", json.body);
            assert_eq!(page.status, StatusCode::SEE_OTHER, "{case}");
            continue;
        }
        assert_eq!(json.status, StatusCode::UNPROCESSABLE_ENTITY, "{case}");
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{case}");
        let fields = json.body["error"]["fields"].as_object().expect("fields");
        let mut named: Vec<&str> = fields.keys().map(String::as_str).collect();
        named.sort();
        let mut expected = bad.to_vec();
        expected.sort();
        assert_eq!(named, expected, "{case}");
        assert_eq!(page.body.matches(r#"class="field-error""#).count(), bad.len(), "{case}: {}", page.body);
        for message in fields.values() {
            assert!(page.body.contains(message.as_str().unwrap()), "{case}: the page says {message}");
        }
    }
}

/// The active/completed counts the page shows (and the quota reads) are a
/// row that triggers keep as tasks change; after each kind of change it
/// must equal a count of the tasks themselves.
async fn the_counts_row_matches_the_tasks_after_every_kind_of_change(app: TestApp) {
    let browser = app.signed_in().await;
    let first = browser.create_task("count me 0").await;
    let owner: uuid::Uuid = doable::on_pool!(&app.unrestricted, pool => {
        sqlx::query_scalar("SELECT user_id FROM tasks WHERE id = $1").bind(first).fetch_one(pool).await.unwrap()
    });
    let check = |step: &'static str| {
        let db = app.unrestricted.clone();
        async move {
            let (active, completed): (i64, i64) = doable::on_pool!(&db, pool => {
                sqlx::query_as(
                    "SELECT coalesce(sum(CASE WHEN completed THEN 0 ELSE 1 END), 0),
                            coalesce(sum(CASE WHEN completed THEN 1 ELSE 0 END), 0)
                     FROM tasks WHERE user_id = $1 AND deleted_at IS NULL",
                )
                .bind(owner)
                .fetch_one(pool)
                .await
                .unwrap()
            });
            let row: Option<(i64, i64)> = doable::on_pool!(&db, pool => {
                sqlx::query_as("SELECT active, completed FROM task_counts WHERE user_id = $1")
                    .bind(owner)
                    .fetch_optional(pool)
                    .await
                    .unwrap()
            });
            assert_eq!(row.unwrap_or((0, 0)), (active, completed), "after {step}");
        }
    };
    check("the first create").await;
    let mut ids = vec![first];
    for n in 1..6 {
        ids.push(browser.create_task(&format!("count me {n}")).await);
    }
    check("creates").await;
    for id in &ids[..3] {
        browser.post(&format!("/tasks/{id}/toggle"), &[]).await;
    }
    browser.post(&format!("/tasks/{}/toggle", ids[0]), &[]).await;
    check("toggles").await;
    browser.post(&format!("/tasks/{}/delete", ids[1]), &[]).await;
    check("a deletion").await;
    let batch = crate::tasks::undo_batch(&browser.get("/tasks").await.body).expect("an Undo form");
    browser.post("/tasks/undo", &[("batch", batch.as_str())]).await;
    check("its undo").await;
    browser.post("/tasks/clear-completed", &[]).await;
    check("clear completed").await;
    browser.post("/tasks/toggle-all", &[]).await;
    check("toggle all").await;
    let edited =
        browser.post(&format!("/tasks/{}", ids[5]), &[("title", "edited"), ("completed", "on"), ("back", "")]).await;
    assert_eq!(edited.status, StatusCode::SEE_OTHER);
    check("an edit").await;
    doable::db::users::delete(app.db.for_user(owner)).await.unwrap();
    check("deleting the account").await;
}

/// A backlog larger than a batch goes entirely, a batch at a time: 25 old
/// throttle events and 25 deleted tasks, purged in batches of 7.
async fn housekeeping_deletes_a_backlog_in_bounded_batches_until_none_is_left(app: TestApp) {
    let browser = app.signed_in().await;
    let first = browser.create_task("backlog").await;
    let long_ago = time::OffsetDateTime::now_utc() - time::Duration::days(3);
    let owner: uuid::Uuid = doable::on_pool!(&app.unrestricted, pool => {
        sqlx::query_scalar("SELECT user_id FROM tasks WHERE id = $1").bind(first).fetch_one(pool).await.unwrap()
    });
    doable::on_pool!(&app.unrestricted, pool => {
        for n in 0..25 {
            sqlx::query("INSERT INTO throttle_events (bucket, created_at) VALUES ($1, $2)")
                .bind(format!("backlog:{n}"))
                .bind(long_ago)
                .execute(pool)
                .await
                .unwrap();
            sqlx::query(
                "INSERT INTO tasks (user_id, title, title_folded, completed, created_at, updated_at, deleted_at)
                 VALUES ($1, 'gone', 'gone', false, $2, $2, $2)",
            )
            .bind(owner)
            .bind(long_ago)
            .execute(pool)
            .await
            .unwrap();
        }
    });
    doable::db::housekeeping::purge_in_batches(&app.db, time::Duration::days(1), 7).await.unwrap();
    let left: (i64, i64) = doable::on_pool!(&app.unrestricted, pool => {
        sqlx::query_as(
            "SELECT (SELECT count(*) FROM throttle_events WHERE bucket LIKE 'backlog:%'),
                    (SELECT count(*) FROM tasks WHERE user_id = $1 AND deleted_at IS NOT NULL)",
        )
        .bind(owner)
        .fetch_one(pool)
        .await
        .unwrap()
    });
    assert_eq!(left, (0, 0));
    assert_eq!(browser.get("/tasks").await.task_ids(), vec![first], "live tasks stay");
}
