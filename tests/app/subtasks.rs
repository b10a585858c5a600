//! Subtasks (PRODUCT.md §7): `parent_id` names a task of the owner's in
//! the same list that is no subtask itself; a list shows its tasks with
//! their progress, a task's subtasks are a view of their own; completing
//! a parent with open subtasks asks first; deleting it takes them along,
//! with the same undo. Reshapes sent at once never nest two deep.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    api::{Api, Reply},
    common::{Browser, PASSWORD, TestApp},
};

crate::on_both_backends!(
    subtasks_are_one_level_deep_in_their_parents_list,
    another_users_task_is_no_parent,
    reshapes_sent_at_once_never_nest_two_deep,
    a_list_shows_its_tasks_with_their_progress_and_a_task_its_subtasks,
    completing_a_parent_with_open_subtasks_asks_first,
    deleting_a_parent_takes_its_subtasks_with_the_same_undo,
    an_undone_subtask_comes_back_under_its_parent_or_not_at_all,
    a_subtask_made_while_its_parent_is_deleted_goes_with_it,
);

async fn subtask(api: &Api, title: &str, parent: i64) -> Reply {
    api.post("/tasks", json!({ "title": title, "parent_id": parent })).await
}

fn field_error(reply: &Reply, field: &str) {
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", reply.body);
    assert!(reply.body["error"]["fields"][field].is_string(), "blames {field}: {:?}", reply.body);
}

/// The ids of `path`'s items, in order.
async fn ids(api: &Api, path: &str) -> Vec<i64> {
    let reply = api.get(path).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    reply.body["items"].as_array().unwrap().iter().map(|t| t["id"].as_i64().unwrap()).collect()
}

async fn subtasks_are_one_level_deep_in_their_parents_list(app: TestApp) {
    let (api, _) = Api::signed_up(&app).await;
    let (trip, home) = (api.new_list("Trip").await, api.new_list("Home").await);
    let plan = api.task_in("Plan the trip", trip).await;
    let book = subtask(&api, "Book the train", plan).await;
    assert_eq!(book.status, StatusCode::CREATED, "{:?}", book.body);
    assert_eq!((book.body["parent_id"].as_i64(), book.body["list_id"].as_i64()), (Some(plan), Some(trip)));
    let book = book.body["id"].as_i64().unwrap();
    assert_eq!(api.get(&format!("/tasks/{plan}")).await.body["parent_id"], Value::Null);

    // One level, in the parent's list.
    field_error(&subtask(&api, "Pick seats", book).await, "parent_id");
    let elsewhere = api.post("/tasks", json!({"title": "Pack", "parent_id": plan, "list_id": home})).await;
    field_error(&elsewhere, "list_id");
    let chores = api.task_in("Chores", home).await;
    field_error(&api.patch(&format!("/tasks/{plan}"), json!({"parent_id": chores})).await, "parent_id");
    field_error(&api.patch(&format!("/tasks/{chores}"), json!({"parent_id": chores})).await, "parent_id");
    field_error(&api.patch(&format!("/tasks/{chores}"), json!({"parent_id": book})).await, "parent_id");
    field_error(&api.patch(&format!("/tasks/{book}"), json!({"list_id": home})).await, "list_id");
    let moved = api.post(&format!("/tasks/{book}/move"), json!({"to": "top", "list_id": home})).await;
    field_error(&moved, "list_id");
    assert_eq!(api.get(&format!("/tasks/{book}")).await.body["list_id"], trip, "refusals change nothing");

    // A task made a subtask moves to its parent's list; freed, it may leave.
    let made = api.patch(&format!("/tasks/{chores}"), json!({"parent_id": plan})).await;
    assert_eq!(made.status, StatusCode::OK, "{:?}", made.body);
    assert_eq!((made.body["parent_id"].as_i64(), made.body["list_id"].as_i64()), (Some(plan), Some(trip)));
    let freed = api.patch(&format!("/tasks/{chores}"), json!({"parent_id": null, "list_id": home})).await;
    assert_eq!(freed.status, StatusCode::OK, "{:?}", freed.body);
    assert_eq!((freed.body["parent_id"].clone(), freed.body["list_id"].as_i64()), (Value::Null, Some(home)));

    // A parent moved to another list takes its subtasks along.
    let pack = subtask(&api, "Pack", plan).await.body["id"].as_i64().unwrap();
    assert_eq!(api.patch(&format!("/tasks/{plan}"), json!({"list_id": home})).await.status, StatusCode::OK);
    for task in [book, pack] {
        assert_eq!(api.get(&format!("/tasks/{task}")).await.body["list_id"], home);
    }
    assert_eq!(
        api.post(&format!("/tasks/{plan}/move"), json!({"to": "top", "list_id": trip})).await.status,
        StatusCode::OK
    );
    for task in [book, pack] {
        assert_eq!(api.get(&format!("/tasks/{task}")).await.body["list_id"], trip, "and by the move endpoint");
    }

    // The filter: a task's subtasks, or the tasks that are none.
    assert_eq!(ids(&api, &format!("/tasks?parent_id={plan}")).await, [pack, book]);
    let top = ids(&api, "/tasks?parent_id=none").await;
    assert!(top.contains(&plan) && top.contains(&chores) && !top.contains(&book) && !top.contains(&pack));
    assert_eq!(ids(&api, "/tasks").await.len(), 4, "by default, tasks and subtasks alike");
    field_error(&api.get("/tasks?parent_id=first").await, "parent_id");
    // Manual order among siblings pages through its cursor.
    assert_eq!(api.post(&format!("/tasks/{book}/move"), json!({"to": "top"})).await.status, StatusCode::OK);
    assert_eq!(ids(&api, &format!("/tasks?parent_id={plan}&sort=manual&limit=1")).await, [book]);
}

async fn another_users_task_is_no_parent(app: TestApp) {
    let (owner, _) = Api::signed_up(&app).await;
    let plan = owner.create("Plan").await;
    owner.post("/tasks", json!({"title": "Secret step", "parent_id": plan})).await;
    let (other, _) = Api::signed_up(&app).await;
    let mine = other.create("Mine").await;
    let missing = 9_000_000_000_i64;
    let theirs = subtask(&other, "Sneak", plan).await;
    let nobodys = subtask(&other, "Sneak", missing).await;
    field_error(&theirs, "parent_id");
    assert_eq!(theirs.body, nobodys.body, "another user's task answers exactly like a missing one");
    let theirs = other.patch(&format!("/tasks/{mine}"), json!({"parent_id": plan})).await;
    let nobodys = other.patch(&format!("/tasks/{mine}"), json!({"parent_id": missing})).await;
    field_error(&theirs, "parent_id");
    assert_eq!(theirs.body, nobodys.body);
    assert_eq!(ids(&other, &format!("/tasks?parent_id={plan}")).await, Vec::<i64>::new());
    assert_eq!(ids(&owner, &format!("/tasks?parent_id={plan}")).await.len(), 1, "the owner's subtask is untouched");
}

async fn reshapes_sent_at_once_never_nest_two_deep(app: TestApp) {
    let (api, _) = Api::signed_up(&app).await;
    let (trip, home) = (api.new_list("Trip").await, api.new_list("Home").await);
    // Each round: b under a and a under c at once (each fine alone), and a
    // subtask made while its parent moves to another list.
    for _ in 0..6 {
        let (a, b, c) = (api.task_in("a", trip).await, api.task_in("b", trip).await, api.task_in("c", trip).await);
        let p = api.task_in("p", trip).await;
        let (b_path, a_path, p_path) = (format!("/tasks/{b}"), format!("/tasks/{a}"), format!("/tasks/{p}"));
        let (under_a, under_c, child, away) = tokio::join!(
            api.patch(&b_path, json!({"parent_id": a})),
            api.patch(&a_path, json!({"parent_id": c})),
            subtask(&api, "child", p),
            api.patch(&p_path, json!({"list_id": home})),
        );
        let landed = [&under_a, &under_c].iter().filter(|r| r.status == StatusCode::OK).count();
        assert_eq!(landed, 1, "one of the two lands, the other is refused: {:?} {:?}", under_a.body, under_c.body);
        assert_eq!(
            (child.status, away.status),
            (StatusCode::CREATED, StatusCode::OK),
            "{:?} {:?}",
            child.body,
            away.body
        );
        let parent_list = api.get(&format!("/tasks/{p}")).await.body["list_id"].clone();
        assert_eq!(api.get(&format!("/tasks/{}", child.body["id"])).await.body["list_id"], parent_list);
    }
    let all = api.get("/tasks?limit=100").await.body["items"].as_array().unwrap().clone();
    let parent_of = |id: &Value| all.iter().find(|t| &t["id"] == id).map(|t| t["parent_id"].clone());
    for task in &all {
        if !task["parent_id"].is_null() {
            assert_eq!(parent_of(&task["parent_id"]), Some(Value::Null), "{task}: its parent is no subtask");
        }
    }
}

/// `api`'s account in a browser.
async fn browser_of(app: &TestApp, api: &Api) -> Browser {
    let browser = app.browser();
    let email = api.get("/me").await.body["email"].as_str().unwrap().to_owned();
    assert_eq!(browser.sign_in(&email, PASSWORD).await.status, StatusCode::SEE_OTHER);
    browser
}

async fn a_list_shows_its_tasks_with_their_progress_and_a_task_its_subtasks(app: TestApp) {
    let (api, _) = Api::signed_up(&app).await;
    let trip = api.new_list("Trip").await;
    let plan = api.task_in("Plan <the> trip", trip).await;
    let today = time::OffsetDateTime::now_utc().date().to_string();
    let book = api.post("/tasks", json!({"title": "Book", "parent_id": plan, "due_date": today})).await;
    let book = book.body["id"].as_i64().unwrap();
    let pack = subtask(&api, "Pack", plan).await.body["id"].as_i64().unwrap();
    api.patch(&format!("/tasks/{pack}"), json!({"completed": true})).await;
    let browser = browser_of(&app, &api).await;

    let list = browser.get(&format!("/lists/{trip}")).await;
    assert_eq!(list.task_ids(), [plan], "the list shows its tasks, not their subtasks");
    assert!(
        list.body.contains(&format!(
            "href=\"/lists/{trip}?parent_id={plan}\"><span class=\"sr\">Subtasks of “Plan &#60;the&#62; trip” done: </span>1/2</a>"
        )),
        "its progress, escaped: {}",
        list.body
    );
    // A date view shows the subtask due today, with its parent.
    let today_page = browser.get("/today").await;
    assert_eq!(today_page.task_ids(), [book]);
    assert!(today_page.body.contains("<span class=\"sr\">Subtask of </span>"));
    assert!(today_page.body.contains("Plan &#60;the&#62; trip</a>"));

    // The task's subtasks: a view of their own, where a new task is one of them.
    let path = format!("/lists/{trip}?parent_id={plan}");
    let subtasks = browser.get(&path).await;
    assert_eq!(subtasks.task_ids(), [pack, book]);
    assert!(subtasks.body.contains("Subtasks of <a"), "{}", subtasks.body);
    assert!(subtasks.body.contains("</strong> completed in this list"), "the counts say they are the list's");
    assert!(!subtasks.body.contains("id=\"toggle-all\""), "no Mark all inside a task's subtasks");
    assert!(!list.body.contains("completed in this list"), "the list as it is says nothing more");
    let back = format!("list_id={trip}&parent_id={plan}");
    let added = browser.post("/tasks", &[("title", "Buy a map"), ("back", &back)]).await;
    assert_eq!((added.status, added.location()), (StatusCode::SEE_OTHER, path.as_str()));
    let map = ids(&api, &format!("/tasks?parent_id={plan}")).await[0];
    assert_eq!(api.get(&format!("/tasks/{map}")).await.body["title"], "Buy a map");
    // Another user's task, or one in another list, shows nothing.
    let (other, _) = Api::signed_up(&app).await;
    let stranger = browser_of(&app, &other).await;
    assert_eq!(stranger.get(&format!("/tasks?parent_id={plan}")).await.status, StatusCode::NOT_FOUND);
    let inbox = api.get("/lists").await.body["items"][0]["id"].as_i64().unwrap();
    assert_eq!(browser.get(&format!("/lists/{inbox}?parent_id={plan}")).await.status, StatusCode::NOT_FOUND);
    // The edit page links to a task's subtasks; editing a subtask into
    // another list makes it a task of its own there.
    assert!(browser.get(&format!("/tasks/{plan}/edit")).await.body.contains(&format!("href=\"{path}\"")));
    browser.get(&format!("/tasks/{book}/edit")).await;
    let inbox_id = inbox.to_string();
    let saved = browser.post(&format!("/tasks/{book}"), &[("title", "Book"), ("list_id", &inbox_id)]).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let book_now = api.get(&format!("/tasks/{book}")).await.body;
    assert_eq!((book_now["list_id"].as_i64(), book_now["parent_id"].clone()), (Some(inbox), Value::Null));
}

async fn completing_a_parent_with_open_subtasks_asks_first(app: TestApp) {
    let (api, _) = Api::signed_up(&app).await;
    let plan = api.create("Plan").await;
    let steps = [subtask(&api, "one", plan).await, subtask(&api, "two", plan).await];
    let steps: Vec<i64> = steps.iter().map(|r| r.body["id"].as_i64().unwrap()).collect();
    let browser = browser_of(&app, &api).await;
    browser.get("/tasks").await;

    // Without JavaScript: the toggle sends to a question, and changes nothing yet.
    let asked = browser.post(&format!("/tasks/{plan}/toggle"), &[("back", "status=active")]).await;
    assert_eq!(asked.status, StatusCode::SEE_OTHER);
    assert_eq!(asked.location(), format!("/tasks/{plan}/complete?status=active"));
    assert_eq!(api.get(&format!("/tasks/{plan}")).await.body["completed"], false);
    let question = browser.get(asked.location()).await;
    assert_eq!(question.status, StatusCode::OK);
    assert!(question.body.contains("It has <strong>2</strong> subtasks not done yet."), "{}", question.body);
    assert!(question.body.contains("name=\"subtasks\" value=\"complete\""));
    assert!(question.body.contains("href=\"/tasks?status=active\" id=\"complete-cancel\""));

    let kept =
        browser.post(&format!("/tasks/{plan}/complete"), &[("subtasks", "keep"), ("back", "status=active")]).await;
    assert_eq!((kept.status, kept.location()), (StatusCode::SEE_OTHER, "/tasks?status=active"));
    assert_eq!(api.get(&format!("/tasks/{plan}")).await.body["completed"], true);
    for step in &steps {
        assert_eq!(api.get(&format!("/tasks/{step}")).await.body["completed"], false, "kept open");
    }
    // Reopening asks nothing; with htmx the question is a navigation.
    browser.get("/tasks").await;
    assert_eq!(browser.post(&format!("/tasks/{plan}/toggle"), &[]).await.status, StatusCode::SEE_OTHER);
    assert_eq!(api.get(&format!("/tasks/{plan}")).await.body["completed"], false);
    let htmx = browser.post_htmx(&format!("/tasks/{plan}/toggle"), &[]).await;
    assert_eq!(htmx.headers.get("hx-redirect").unwrap(), &format!("/tasks/{plan}/complete"));
    browser.get(&format!("/tasks/{plan}/complete")).await;
    let all = browser.post(&format!("/tasks/{plan}/complete"), &[("subtasks", "complete")]).await;
    assert_eq!(all.status, StatusCode::SEE_OTHER);
    for task in [plan, steps[0], steps[1]] {
        assert_eq!(api.get(&format!("/tasks/{task}")).await.body["completed"], true);
    }
    // With every subtask done, the toggle just toggles.
    browser.get("/tasks").await;
    browser.post(&format!("/tasks/{plan}/toggle"), &[]).await;
    assert_eq!(browser.post(&format!("/tasks/{plan}/toggle"), &[]).await.location(), "/tasks");
    assert_eq!(api.get(&format!("/tasks/{plan}")).await.body["completed"], true);
    let bad = browser.post(&format!("/tasks/{plan}/complete"), &[("subtasks", "maybe")]).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

async fn deleting_a_parent_takes_its_subtasks_with_the_same_undo(app: TestApp) {
    let (api, _) = Api::signed_up(&app).await;
    let plan = api.create("Plan").await;
    let step = subtask(&api, "step", plan).await.body["id"].as_i64().unwrap();
    let gone_first = subtask(&api, "deleted first", plan).await.body["id"].as_i64().unwrap();
    let browser = browser_of(&app, &api).await;
    browser.get("/tasks").await;
    // A subtask deleted on its own stays deleted when its parent comes back.
    browser.post(&format!("/tasks/{gone_first}/delete"), &[]).await;
    browser.get("/tasks").await;
    assert_eq!(browser.post(&format!("/tasks/{plan}/delete"), &[]).await.status, StatusCode::SEE_OTHER);
    let page = browser.get("/tasks").await;
    assert!(page.body.contains("Deleted 2 tasks."), "the parent and its subtask, one deletion: {}", page.body);
    for task in [plan, step] {
        assert_eq!(api.get(&format!("/tasks/{task}")).await.status, StatusCode::NOT_FOUND);
    }
    let batch = page.body.split("name=\"batch\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    assert_eq!(browser.post("/tasks/undo", &[("batch", &batch)]).await.status, StatusCode::SEE_OTHER);
    for task in [plan, step] {
        assert_eq!(api.get(&format!("/tasks/{task}")).await.body["parent_id"].as_i64(), (task == step).then_some(plan));
    }
    assert_eq!(api.get(&format!("/tasks/{gone_first}")).await.status, StatusCode::NOT_FOUND);

    // Clearing completed tasks takes a completed parent's subtasks, done or not.
    api.patch(&format!("/tasks/{plan}"), json!({"completed": true})).await;
    browser.get("/tasks").await;
    browser.post("/tasks/clear-completed", &[]).await;
    assert_eq!(api.get(&format!("/tasks/{step}")).await.status, StatusCode::NOT_FOUND);

    // The API's delete is for good, subtasks included.
    let other = api.create("Other").await;
    let under = subtask(&api, "under", other).await.body["id"].as_i64().unwrap();
    assert_eq!(api.delete(&format!("/tasks/{other}")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(api.get(&format!("/tasks/{under}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(api.delete(&format!("/tasks/{other}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(api.get("/tasks").await.body["items"], json!([]), "nothing is left behind");
}

/// The undo batch the page offers.
fn batch_on(page: &crate::common::Page) -> String {
    page.body.split("name=\"batch\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned()
}

async fn an_undone_subtask_comes_back_under_its_parent_or_not_at_all(app: TestApp) {
    let (api, _) = Api::signed_up(&app).await;
    let (one, two) = (api.new_list("One").await, api.new_list("Two").await);
    let (p, q) = (api.task_in("P", one).await, api.task_in("Q", two).await);
    let s = subtask(&api, "S", p).await.body["id"].as_i64().unwrap();
    let browser = browser_of(&app, &api).await;
    browser.get("/tasks").await;
    browser.post(&format!("/tasks/{s}/delete"), &[]).await;
    let batch = batch_on(&browser.get("/tasks").await);
    // Its parent becomes a subtask elsewhere, then a task of its own again.
    assert_eq!(api.patch(&format!("/tasks/{p}"), json!({"parent_id": q})).await.status, StatusCode::OK);
    browser.get("/tasks").await;
    browser.post("/tasks/undo", &[("batch", &batch)]).await;
    assert_eq!(api.get(&format!("/tasks/{s}")).await.status, StatusCode::NOT_FOUND, "not under a subtask");
    assert_eq!(api.patch(&format!("/tasks/{p}"), json!({"parent_id": null})).await.status, StatusCode::OK);
    browser.get("/tasks").await;
    browser.post("/tasks/undo", &[("batch", &batch)]).await;
    let back = api.get(&format!("/tasks/{s}")).await.body;
    assert_eq!((back["parent_id"].as_i64(), back["list_id"].as_i64()), (Some(p), Some(two)), "in its parent's list");
}

async fn a_subtask_made_while_its_parent_is_deleted_goes_with_it(app: TestApp) {
    let (api, _) = Api::signed_up(&app).await;
    let browser = browser_of(&app, &api).await;
    browser.get("/tasks").await;
    for round in 0..8 {
        let p = api.create(&format!("P{round}")).await;
        let path = format!("/tasks/{p}/delete");
        let (made, deleted) = tokio::join!(subtask(&api, "S", p), browser.post(&path, &[]));
        assert_eq!(deleted.status, StatusCode::SEE_OTHER);
        assert!(matches!(made.status, StatusCode::CREATED | StatusCode::UNPROCESSABLE_ENTITY), "{:?}", made.body);
        if made.status == StatusCode::CREATED {
            let s = made.body["id"].as_i64().unwrap();
            assert_eq!(api.get(&format!("/tasks/{s}")).await.status, StatusCode::NOT_FOUND, "deleted with {p}");
        }
    }
    assert_eq!(api.get("/tasks").await.body["items"], json!([]), "no live subtask of a deleted task");
}
