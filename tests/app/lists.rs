//! Lists (PRODUCT.md §7): the Inbox, the API's lists and the tasks in them,
//! another user's list treated exactly as a missing one, the pages without
//! JavaScript, and many requests at once against the name rule and quota.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    api::{Api, Reply},
    common::{PASSWORD, TestApp, unique_email},
};

crate::on_both_backends!(
    every_account_has_one_inbox_and_lists_follow_the_contract,
    tasks_go_to_the_inbox_or_their_list_and_the_counts_follow,
    deleting_a_list_moves_its_tasks_to_the_inbox_or_deletes_them,
    another_users_list_answers_exactly_like_a_missing_one,
    lists_work_without_javascript_and_names_are_escaped,
    many_creates_at_once_keep_names_unique_and_the_quota_exact,
    a_list_deleted_while_tasks_are_added_to_it_loses_none_of_them,
    a_view_of_a_list_deleted_in_another_tab_falls_back_to_all_tasks,
    bulk_actions_in_a_list_act_on_that_list_only,
);

/// The caller's lists by name: `(id, open_count)`.
async fn lists_of(api: &Api) -> Vec<(String, i64, i64)> {
    let reply = api.get("/lists").await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    reply.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["name"].as_str().unwrap().to_owned(), l["id"].as_i64().unwrap(), l["open_count"].as_i64().unwrap()))
        .collect()
}

async fn every_account_has_one_inbox_and_lists_follow_the_contract(app: TestApp) {
    let (api, _) = Api::signed_up(&app).await;
    let start = api.get("/lists").await;
    assert_eq!(start.status, StatusCode::OK);
    let items = start.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["name"], "Inbox");
    assert_eq!(items[0]["is_inbox"], true);
    assert_eq!(items[0]["archived"], false);
    assert_eq!(items[0]["open_count"], 0);
    let inbox = items[0]["id"].as_i64().unwrap();

    let created = api.post("/lists", json!({"name": "  Work  ", "colour": "blue"})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let work = created.body["id"].as_i64().unwrap();
    assert_eq!(created.headers["location"], format!("/api/v1/lists/{work}").as_str());
    assert_eq!(created.body["name"], "Work", "trimmed");
    assert_eq!(created.body["colour"], "blue");
    assert_eq!(created.body["is_inbox"], false);
    assert_eq!(api.get(&format!("/lists/{work}")).await.body, created.body);

    // Names are unique per user, whatever their case.
    let taken = api.post("/lists", json!({"name": "WORK"})).await;
    assert_eq!(taken.status, StatusCode::CONFLICT, "{:?}", taken.body);
    let inbox_again = api.post("/lists", json!({"name": "inbox"})).await;
    assert_eq!(inbox_again.status, StatusCode::CONFLICT);
    for bad in
        [json!({"name": ""}), json!({"name": "   "}), json!({"name": "x".repeat(101)}), json!({"name": "a\u{7}b"})]
    {
        let refused = api.post("/lists", bad.clone()).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {:?}", refused.body);
        assert!(refused.body["error"]["fields"]["name"].is_string(), "{:?}", refused.body);
    }
    let colour = api.post("/lists", json!({"name": "Home", "colour": "url(javascript:x)"})).await;
    assert_eq!(colour.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(colour.body["error"]["fields"]["colour"].is_string());
    assert_eq!(
        api.post("/lists", json!({"name": "Home", "owner": "x"})).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(lists_of(&api).await.len(), 2, "nothing refused was created");

    // Rename, recolour, archive and back.
    let renamed = api.patch(&format!("/lists/{work}"), json!({"name": "Job", "colour": null})).await;
    assert_eq!(renamed.status, StatusCode::OK, "{:?}", renamed.body);
    assert_eq!(renamed.body["name"], "Job");
    assert_eq!(renamed.body["colour"], Value::Null);
    let archived = api.patch(&format!("/lists/{work}"), json!({"archived": true})).await;
    assert_eq!(archived.body["archived"], true);
    assert_eq!(archived.body["name"], "Job", "other fields kept");
    let names: Vec<String> = lists_of(&api).await.into_iter().map(|(name, ..)| name).collect();
    assert_eq!(names, ["Inbox", "Job"], "the Inbox first, archived lists last");
    assert_eq!(api.patch(&format!("/lists/{work}"), json!({"archived": false})).await.body["archived"], false);
    assert_eq!(api.patch(&format!("/lists/{work}"), json!({"name": "inbox"})).await.status, StatusCode::CONFLICT);
    assert_eq!(
        api.patch(&format!("/lists/{work}"), json!({"name": null})).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    // The Inbox stays.
    let archive_inbox = api.patch(&format!("/lists/{inbox}"), json!({"archived": true})).await;
    assert_eq!(archive_inbox.status, StatusCode::CONFLICT, "{:?}", archive_inbox.body);
    let delete_inbox = api.delete(&format!("/lists/{inbox}")).await;
    assert_eq!(delete_inbox.status, StatusCode::CONFLICT);
    let recoloured = api.patch(&format!("/lists/{inbox}"), json!({"colour": "green"})).await;
    assert_eq!(recoloured.status, StatusCode::OK, "the Inbox may change colour");
    assert_eq!(lists_of(&api).await[0].0, "Inbox");

    assert_eq!(api.delete(&format!("/lists/{work}?tasks=sideways")).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(api.delete(&format!("/lists/{work}")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(api.get(&format!("/lists/{work}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(api.delete(&format!("/lists/{work}")).await.status, StatusCode::NOT_FOUND);
}

async fn tasks_go_to_the_inbox_or_their_list_and_the_counts_follow(app: TestApp) {
    let (api, _) = Api::signed_up(&app).await;
    let inbox = lists_of(&api).await[0].1;
    let work = api.new_list("Work").await;

    let loose = api.create("No list given").await;
    assert_eq!(api.get(&format!("/tasks/{loose}")).await.body["list_id"], inbox);
    let report = api.task_in("Write the report", work).await;
    let slides = api.task_in("Make the slides", work).await;
    assert_eq!(api.patch(&format!("/tasks/{slides}"), json!({"completed": true})).await.status, StatusCode::OK);
    let counts: Vec<(String, i64)> = lists_of(&api).await.into_iter().map(|(name, _, open)| (name, open)).collect();
    assert_eq!(counts, [("Inbox".to_owned(), 1), ("Work".to_owned(), 1)]);

    // The list filter, alone and with a status.
    let ids = |reply: Reply| -> Vec<i64> {
        reply.body["items"].as_array().unwrap().iter().map(|t| t["id"].as_i64().unwrap()).collect()
    };
    assert_eq!(ids(api.get(&format!("/tasks?list_id={work}")).await), [slides, report]);
    assert_eq!(ids(api.get(&format!("/tasks?list_id={work}&status=active")).await), [report]);
    assert_eq!(ids(api.get(&format!("/tasks?list_id={inbox}")).await), [loose]);
    assert_eq!(api.get("/tasks?list_id=nope").await.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(ids(api.get("/tasks?list_id=999999999").await), Vec::<i64>::new());

    // Moving a task moves its count.
    let moved = api.patch(&format!("/tasks/{report}"), json!({"list_id": inbox})).await;
    assert_eq!(moved.status, StatusCode::OK, "{:?}", moved.body);
    assert_eq!(moved.body["list_id"], inbox);
    assert_eq!(moved.body["title"], "Write the report", "nothing else changes");
    let counts: Vec<i64> = lists_of(&api).await.into_iter().map(|(.., open)| open).collect();
    assert_eq!(counts, [2, 0]);
    assert_eq!(
        api.patch(&format!("/tasks/{report}"), json!({"list_id": null})).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let nowhere = api.patch(&format!("/tasks/{report}"), json!({"list_id": 999999999, "title": "Lost"})).await;
    assert_eq!(nowhere.status, StatusCode::NOT_FOUND);
    assert_eq!(api.get(&format!("/tasks/{report}")).await.body["title"], "Write the report", "unchanged");
    let missing = api.post("/tasks", json!({"title": "Into nothing", "list_id": 999999999})).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.code(), "not_found");

    // Deleting a task counts too.
    assert_eq!(api.delete(&format!("/tasks/{loose}")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(lists_of(&api).await[0].2, 1);
}

async fn deleting_a_list_moves_its_tasks_to_the_inbox_or_deletes_them(app: TestApp) {
    let (api, _) = Api::signed_up(&app).await;
    let inbox = lists_of(&api).await[0].1;
    let keep = api.new_list("Keep its tasks").await;
    let kept = api.task_in("Kept", keep).await;
    let drop = api.new_list("Drop its tasks").await;
    let dropped = api.task_in("Dropped", drop).await;

    assert_eq!(api.delete(&format!("/lists/{keep}?tasks=move")).await.status, StatusCode::NO_CONTENT);
    let task = api.get(&format!("/tasks/{kept}")).await;
    assert_eq!(task.status, StatusCode::OK);
    assert_eq!(task.body["list_id"], inbox);
    assert_eq!(api.delete(&format!("/lists/{drop}?tasks=delete")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(api.get(&format!("/tasks/{dropped}")).await.status, StatusCode::NOT_FOUND);

    let left: Vec<(String, i64)> = lists_of(&api).await.into_iter().map(|(name, _, open)| (name, open)).collect();
    assert_eq!(left, [("Inbox".to_owned(), 1)]);
    let all = api.get("/tasks").await;
    assert_eq!(all.body["items"].as_array().unwrap().len(), 1, "{:?}", all.body);
}

async fn another_users_list_answers_exactly_like_a_missing_one(app: TestApp) {
    let (alice, _) = Api::signed_up(&app).await;
    let (bob, _) = Api::signed_up(&app).await;
    let bobs = bob.new_list("Bob's secrets").await;
    let bobs_task = bob.task_in("Bob's task", bobs).await;
    let missing = 999_999_999;
    let alices_task = alice.create("Alice's task").await;

    for (theirs, nobodys) in [
        (alice.get(&format!("/lists/{bobs}")).await, alice.get(&format!("/lists/{missing}")).await),
        (
            alice.patch(&format!("/lists/{bobs}"), json!({"name": "Mine now"})).await,
            alice.patch(&format!("/lists/{missing}"), json!({"name": "Mine now"})).await,
        ),
        (alice.delete(&format!("/lists/{bobs}")).await, alice.delete(&format!("/lists/{missing}")).await),
        (
            alice.post("/tasks", json!({"title": "Planted", "list_id": bobs})).await,
            alice.post("/tasks", json!({"title": "Planted", "list_id": missing})).await,
        ),
        (
            alice.patch(&format!("/tasks/{alices_task}"), json!({"list_id": bobs})).await,
            alice.patch(&format!("/tasks/{alices_task}"), json!({"list_id": missing})).await,
        ),
    ] {
        assert_eq!(theirs.status, StatusCode::NOT_FOUND, "{:?}", theirs.body);
        assert_eq!((theirs.status, &theirs.body), (nobodys.status, &nobodys.body));
    }
    let filtered = alice.get(&format!("/tasks?list_id={bobs}")).await;
    assert_eq!(filtered.status, StatusCode::OK);
    assert_eq!(filtered.body["items"], json!([]), "none of Bob's tasks");

    // Bob's list and task are as they were; Alice's list is untouched.
    let list = bob.get(&format!("/lists/{bobs}")).await;
    assert_eq!((list.body["name"].as_str(), list.body["open_count"].as_i64()), (Some("Bob's secrets"), Some(1)));
    assert_eq!(bob.get(&format!("/tasks/{bobs_task}")).await.body["list_id"], bobs);
    assert_eq!(lists_of(&alice).await.len(), 1);
    assert_eq!(alice.get(&format!("/tasks/{alices_task}")).await.body["list_id"], lists_of(&alice).await[0].1);

    // The pages: Bob's list is a 404 like a missing one, and no form moves into it.
    let browser = app.browser();
    browser.sign_up(&unique_email(), PASSWORD).await;
    let theirs = browser.get(&format!("/lists/{bobs}")).await;
    let nobodys = browser.get(&format!("/lists/{missing}")).await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    assert_eq!((theirs.status, theirs.body), (nobodys.status, nobodys.body));
    let mine = browser.create_task("In my Inbox").await;
    browser.get("/tasks").await;
    let moved = browser.post(&format!("/tasks/{mine}"), &[("title", "Moved?"), ("list_id", &bobs.to_string())]).await;
    assert_eq!(moved.status, StatusCode::NOT_FOUND);
    // A task added in a view of Bob's list goes where one added in a view of
    // a missing list goes: to the adder's own Inbox.
    let added = browser.post("/tasks", &[("title", "Added there?"), ("back", &format!("list_id={bobs}"))]).await;
    assert_eq!((added.status, added.location()), (StatusCode::SEE_OTHER, "/tasks"));
    let nowhere = browser.post("/tasks", &[("title", "Added there?"), ("back", &format!("list_id={missing}"))]).await;
    assert_eq!((nowhere.status, nowhere.location()), (added.status, added.location()));
    for (path, form) in [
        (format!("/lists/{bobs}"), vec![("name", "Taken over")]),
        (format!("/lists/{bobs}/delete"), vec![("tasks", "delete")]),
    ] {
        assert_eq!(browser.post(&path, &form).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(bob.get(&format!("/lists/{bobs}")).await.body["name"], "Bob's secrets");
    assert_eq!(bob.get(&format!("/tasks?list_id={bobs}")).await.body["items"].as_array().unwrap().len(), 1);
}

async fn lists_work_without_javascript_and_names_are_escaped(app: TestApp) {
    let browser = app.browser();
    browser.sign_up(&unique_email(), PASSWORD).await;
    let page = browser.get("/lists").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Inbox"), "the Inbox is listed");

    let name = "<b>Work</b> & \"play\"";
    let created = browser.post("/lists", &[("name", name), ("colour", "teal")]).await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let path = created.location().to_owned();
    let id: i64 = path.strip_prefix("/lists/").expect("to the new list").parse().unwrap();
    let list = browser.get(&path).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(!list.body.contains("<b>Work</b>"), "the name is escaped");
    assert!(list.body.contains("&#60;b&#62;Work&#60;/b&#62; &#38; &#34;play&#34;"), "{}", list.body);
    assert!(list.body.contains("Nothing to do yet"), "a new list is empty");

    // A task added in the list's view goes to the list, and the view follows.
    let back = format!("list_id={id}");
    let added = browser.post("/tasks", &[("title", "Plan the offsite"), ("back", &back)]).await;
    assert_eq!(added.status, StatusCode::SEE_OTHER);
    assert_eq!(added.location(), path);
    let list = browser.get(&path).await;
    let ids = list.task_ids();
    assert_eq!(ids.len(), 1);
    assert!(list.body.contains("Plan the offsite"));
    assert!(list.body.contains("&#34;play&#34; <span class=\"count\">1</span></a>"), "the navigation counts it");
    let htmx = browser.post_htmx(&format!("/tasks/{}/toggle", ids[0]), &[("back", &back)]).await;
    assert_eq!(htmx.status, StatusCode::OK);
    assert!(htmx.body.contains("id=\"tasks\""), "htmx gets the list fragment");
    assert!(htmx.body.contains("1</strong> completed"), "{}", htmx.body);

    // The edit form offers the lists; moving the task takes it out of this view.
    let edit = browser.get(&format!("/tasks/{}/edit?{back}", ids[0])).await;
    assert!(edit.body.contains("name=\"list_id\""), "a list choice");
    let inbox_id = {
        let at = edit.body.find(">Inbox<").expect("the Inbox is offered");
        let value = edit.body[..at].rfind("value=\"").unwrap() + 7;
        edit.body[value..value + edit.body[value..].find('"').unwrap()].to_owned()
    };
    let moved = browser
        .post(&format!("/tasks/{}", ids[0]), &[("title", "Plan the offsite"), ("list_id", &inbox_id), ("back", &back)])
        .await;
    assert_eq!(moved.status, StatusCode::SEE_OTHER, "{}", moved.body);
    assert_eq!(moved.location(), path);
    assert!(browser.get(&path).await.task_ids().is_empty());
    assert_eq!(browser.get(&format!("/lists/{inbox_id}")).await.task_ids(), ids);
    assert_eq!(browser.get(&format!("/tasks?list_id={inbox_id}")).await.task_ids(), ids, "/tasks takes the filter too");

    // A taken name is refused beside the field, the name kept.
    browser.get("/lists").await;
    let taken = browser.post("/lists", &[("name", "INBOX")]).await;
    assert_eq!(taken.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(taken.body.contains("You have a list of that name already."));
    assert!(taken.body.contains("value=\"INBOX\""));

    // Archive (it leaves the navigation), then delete with its tasks.
    let nav_link = format!("href=\"/lists/{id}\"");
    assert!(browser.get("/tasks").await.body.contains(&nav_link), "the list is in the nav until archived");
    let archived = browser.post(&path, &[("name", name), ("colour", "teal"), ("archived", "on")]).await;
    assert_eq!(archived.status, StatusCode::SEE_OTHER);
    assert!(!browser.get("/tasks").await.body.contains(&nav_link), "archived lists leave the nav");
    browser.post("/tasks", &[("title", "Goes with the list"), ("back", &back)]).await;
    let deleted = browser.post(&format!("{path}/delete"), &[("tasks", "delete")]).await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER);
    assert_eq!(browser.get(&path).await.status, StatusCode::NOT_FOUND);
    let all = browser.get("/tasks").await;
    assert!(!all.body.contains("Goes with the list"));
    assert!(all.body.contains("Plan the offsite"), "the moved task stays");
}

/// Attackers send many requests at once: twenty creates of one name get
/// one list and nineteen 409s; forty of different names under a quota of
/// ten (the Inbox and that one are two) get exactly eight; never a 500.
async fn many_creates_at_once_keep_names_unique_and_the_quota_exact(app: TestApp) {
    let app = app.restart_with(&[("MAX_LISTS_PER_USER", "10")]).await;
    let (api, _) = Api::signed_up(&app).await;
    let same = futures::future::join_all((0..20).map(|_| api.post("/lists", json!({"name": "Twins"})))).await;
    let statuses: Vec<StatusCode> = same.iter().map(|r| r.status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CREATED).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| matches!(s.as_u16(), 201 | 409)), "{statuses:?}");

    let many =
        futures::future::join_all((0..40).map(|i| api.post("/lists", json!({"name": format!("List {i}")})))).await;
    let statuses: Vec<StatusCode> = many.iter().map(|r| r.status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CREATED).count(), 8, "{statuses:?}");
    assert!(statuses.iter().all(|s| matches!(s.as_u16(), 201 | 409)), "{statuses:?}");
    let full = many.iter().find(|r| r.status == StatusCode::CONFLICT).unwrap();
    assert_eq!(full.code(), "quota_exceeded");
    assert_eq!(lists_of(&api).await.len(), 10);
}

/// Deleting a list (moving its tasks to the Inbox) while twenty tasks are
/// added to it at once: every task acknowledged (201) survives, in the
/// Inbox; the others are a 404; nothing is a 500 (a deadlock or a foreign
/// key error), and the counts add up.
async fn a_list_deleted_while_tasks_are_added_to_it_loses_none_of_them(app: TestApp) {
    let (api, _) = Api::signed_up(&app).await;
    for round in 0..3 {
        let doomed = api.new_list(&format!("Doomed {round}")).await;
        api.task_in("Already there", doomed).await;
        let adds =
            (0..20).map(|n| api.post("/tasks", json!({"title": format!("Late {round}.{n}"), "list_id": doomed})));
        let path = format!("/lists/{doomed}?tasks=move");
        let (added, deleted) = futures::future::join(futures::future::join_all(adds), api.delete(&path)).await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{:?}", deleted.body);
        for reply in &added {
            assert!(matches!(reply.status.as_u16(), 201 | 404), "{} {:?}", reply.status, reply.body);
            if reply.status == StatusCode::CREATED {
                let task = api.get(&format!("/tasks/{}", reply.body["id"])).await;
                assert_eq!(task.status, StatusCode::OK, "an acknowledged task was lost: {:?}", reply.body);
                assert_eq!(task.body["list_id"], lists_of(&api).await[0].1, "moved to the Inbox");
            }
        }
    }
    let all = api.get("/tasks?limit=100").await.body["items"].as_array().unwrap().len() as i64;
    assert_eq!(lists_of(&api).await, [("Inbox".to_owned(), lists_of(&api).await[0].1, all)]);
}

async fn a_view_of_a_list_deleted_in_another_tab_falls_back_to_all_tasks(app: TestApp) {
    let browser = app.browser();
    browser.sign_up(&unique_email(), PASSWORD).await;
    browser.get("/lists").await;
    let created = browser.post("/lists", &[("name", "Short-lived")]).await;
    let id: i64 = created.location().strip_prefix("/lists/").unwrap().parse().unwrap();
    let back = format!("list_id={id}");
    browser.post("/tasks", &[("title", "Outlives its list"), ("back", &back)]).await;
    let task = browser.get(&format!("/lists/{id}")).await.task_ids()[0];
    assert_eq!(browser.post(&format!("/lists/{id}/delete"), &[]).await.status, StatusCode::SEE_OTHER);

    // The old tab acts on its stale view: the action is done, and the view is all tasks.
    let toggled = browser.post(&format!("/tasks/{task}/toggle"), &[("back", &back)]).await;
    assert_eq!((toggled.status, toggled.location()), (StatusCode::SEE_OTHER, "/tasks"));
    let htmx = browser.post_htmx(&format!("/tasks/{task}/toggle"), &[("back", &back)]).await;
    assert_eq!(htmx.status, StatusCode::OK);
    assert!(htmx.body.contains("Outlives its list") && htmx.body.contains(">All tasks</h2>"), "{}", htmx.body);
    let added = browser.post("/tasks", &[("title", "Typed in the stale tab"), ("back", &back)]).await;
    assert_eq!((added.status, added.location()), (StatusCode::SEE_OTHER, "/tasks"));
    assert!(browser.get("/tasks").await.body.contains("Typed in the stale tab"), "kept, in the Inbox");
    assert_eq!(browser.get(&format!("/lists/{id}")).await.status, StatusCode::NOT_FOUND);
}

/// "Mark all" and "Clear completed" in a list's view touch that list only;
/// "Mark all" without a value flips by the list's own counts.
async fn bulk_actions_in_a_list_act_on_that_list_only(app: TestApp) {
    let (api, _) = Api::signed_up(&app).await;
    let elsewhere = api.create("Open elsewhere").await;
    let done_elsewhere = api.post("/tasks", json!({"title": "Done elsewhere", "completed": true})).await;
    let done_elsewhere = done_elsewhere.body["id"].as_i64().unwrap();
    let list = api.new_list("Errands").await;
    let errand = api.task_in("Post the parcel", list).await;
    assert_eq!(api.patch(&format!("/tasks/{errand}"), json!({"completed": true})).await.status, StatusCode::OK);
    let completed = |id: i64| {
        let api = &api;
        async move { api.get(&format!("/tasks/{id}")).await.body["completed"].as_bool().unwrap() }
    };

    let back = format!("list_id={list}");
    // The same account in a browser.
    let mine = app.browser();
    let email = api.get("/me").await.body["email"].as_str().unwrap().to_owned();
    assert_eq!(mine.sign_in(&email, PASSWORD).await.status, StatusCode::SEE_OTHER);
    mine.get(&format!("/lists/{list}")).await;
    // Everything in the list is done, so "Mark all" reopens it, though other lists have open tasks.
    assert_eq!(mine.post("/tasks/toggle-all", &[("back", &back)]).await.status, StatusCode::SEE_OTHER);
    assert!(!completed(errand).await, "the list's task reopened");
    assert!(!completed(elsewhere).await && completed(done_elsewhere).await, "other lists untouched");
    assert_eq!(
        mine.post("/tasks/toggle-all", &[("back", &back), ("completed", "true")]).await.status,
        StatusCode::SEE_OTHER
    );
    assert!(completed(errand).await && !completed(elsewhere).await);
    assert_eq!(mine.post("/tasks/clear-completed", &[("back", &back)]).await.status, StatusCode::SEE_OTHER);
    assert_eq!(api.get(&format!("/tasks/{errand}")).await.status, StatusCode::NOT_FOUND, "cleared");
    assert!(completed(done_elsewhere).await, "a done task elsewhere stays");
}
