//! Manual order (PRODUCT.md §7): `sort=manual`, the move endpoint and the
//! pages' Move buttons; a move writes the moved task only, a gap too small
//! to split renumbers the list once, and moves made at once (two tabs)
//! leave every task in one place.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    api::{Api, Reply},
    common::{PASSWORD, TestApp},
};

crate::on_both_backends!(
    moves_put_a_task_where_it_is_asked_and_touch_no_other,
    a_move_names_only_the_owners_tasks_and_lists,
    a_gap_too_small_to_split_renumbers_the_list_and_keeps_its_order,
    moves_made_at_once_leave_every_task_in_one_place,
    the_pages_move_tasks_without_javascript,
);

async fn move_to(api: &Api, task: i64, body: Value) -> Reply {
    api.post(&format!("/tasks/{task}/move"), body).await
}

/// The list's tasks in manual order, `(title, position)`, read a page of
/// `limit` at a time through the cursors.
async fn order(api: &Api, list: i64, limit: usize) -> Vec<(String, f64)> {
    let mut all = Vec::new();
    let mut cursor = String::new();
    loop {
        let reply = api.get(&format!("/tasks?list_id={list}&sort=manual&limit={limit}{cursor}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
        for task in reply.body["items"].as_array().unwrap() {
            all.push((task["title"].as_str().unwrap().to_owned(), task["position"].as_f64().unwrap()));
        }
        match reply.body["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return all,
        }
    }
}

fn titles(order: &[(String, f64)]) -> Vec<&str> {
    order.iter().map(|(title, _)| title.as_str()).collect()
}

async fn moves_put_a_task_where_it_is_asked_and_touch_no_other(app: TestApp) {
    let (api, _) = Api::signed_up(&app).await;
    let list = api.new_list("Trip").await;
    let mut ids = std::collections::HashMap::new();
    for title in ["a", "b", "c", "d"] {
        ids.insert(title, api.task_in(title, list).await);
    }
    // New tasks go to the top, as the newest-first view shows them.
    assert_eq!(titles(&order(&api, list, 50).await), ["d", "c", "b", "a"]);

    let before = order(&api, list, 50).await;
    let moved = move_to(&api, ids["a"], json!({"to": "top"})).await;
    assert_eq!(moved.status, StatusCode::OK, "{:?}", moved.body);
    assert_eq!(moved.body["title"], "a");
    let after = order(&api, list, 50).await;
    assert_eq!(titles(&after), ["a", "d", "c", "b"]);
    assert_eq!(moved.body["position"].as_f64().unwrap(), after[0].1, "the answer has the new position");
    for (title, position) in &after[1..] {
        let was = before.iter().find(|(t, _)| t == title).unwrap().1;
        assert_eq!(*position, was, "{title}: a move writes the moved task only");
    }

    assert_eq!(move_to(&api, ids["b"], json!({"before_id": ids["d"]})).await.status, StatusCode::OK);
    assert_eq!(titles(&order(&api, list, 50).await), ["a", "b", "d", "c"]);
    assert_eq!(move_to(&api, ids["a"], json!({"after_id": ids["c"]})).await.status, StatusCode::OK);
    assert_eq!(titles(&order(&api, list, 50).await), ["b", "d", "c", "a"]);
    assert_eq!(move_to(&api, ids["b"], json!({"to": "bottom"})).await.status, StatusCode::OK);
    assert_eq!(titles(&order(&api, list, 50).await), ["d", "c", "a", "b"]);
    // Pages of two through the manual cursor read the same order.
    assert_eq!(titles(&order(&api, list, 2).await), ["d", "c", "a", "b"]);
    assert_eq!(titles(&order(&api, list, 1).await), ["d", "c", "a", "b"]);

    // Into another list: next to a task there, or to its top.
    let other = api.new_list("Other").await;
    let x = api.task_in("x", other).await;
    let into = move_to(&api, ids["c"], json!({"after_id": x})).await;
    assert_eq!((into.status, &into.body["list_id"]), (StatusCode::OK, &json!(other)));
    assert_eq!(titles(&order(&api, other, 50).await), ["x", "c"]);
    let back = move_to(&api, ids["c"], json!({"to": "top", "list_id": list})).await;
    assert_eq!(back.body["list_id"], list);
    assert_eq!(titles(&order(&api, list, 50).await), ["c", "d", "a", "b"]);
    // A task moved to another list by PATCH goes to its top.
    let patched = api.patch(&format!("/tasks/{x}"), json!({"list_id": list})).await;
    assert_eq!(patched.status, StatusCode::OK);
    assert_eq!(titles(&order(&api, list, 50).await), ["x", "c", "d", "a", "b"]);

    for bad in [
        json!({}),
        json!({"to": "middle"}),
        json!({"before_id": ids["d"], "after_id": ids["a"]}),
        json!({"to": "top", "extra": 1}),
        json!({"before_id": ids["a"]}),
        json!({"before_id": 1.5}),
    ] {
        let refused = move_to(&api, ids["a"], bad.clone()).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {:?}", refused.body);
    }
    assert_eq!(api.get("/tasks?sort=sideways").await.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(titles(&order(&api, list, 50).await), ["x", "c", "d", "a", "b"], "nothing refused moved anything");
}

async fn a_move_names_only_the_owners_tasks_and_lists(app: TestApp) {
    let (alice, _) = Api::signed_up(&app).await;
    let (bob, _) = Api::signed_up(&app).await;
    let alices_list = alice.new_list("Alice's").await;
    let alices = alice.task_in("Alice's task", alices_list).await;
    let bobs_list = bob.new_list("Bob's").await;
    let bobs = bob.task_in("Bob's task", bobs_list).await;
    let other_bobs_list = bob.new_list("Bob's other").await;
    let elsewhere = bob.task_in("Elsewhere", other_bobs_list).await;
    for (task, body) in [
        (alices, json!({"to": "top"})),
        (bobs, json!({"before_id": alices})),
        (bobs, json!({"to": "top", "list_id": alices_list})),
        (999_999_999, json!({"to": "top"})),
    ] {
        let reply = move_to(&bob, task, body.clone()).await;
        assert_eq!((reply.status, reply.code()), (StatusCode::NOT_FOUND, "not_found"), "{task} {body}");
    }
    let missing = move_to(&bob, bobs, json!({"before_id": 999_999_999})).await;
    let foreign = move_to(&bob, bobs, json!({"before_id": alices})).await;
    assert_eq!((missing.status, &missing.body), (foreign.status, &foreign.body), "exactly like a missing one");
    let mismatch = move_to(&bob, bobs, json!({"before_id": elsewhere, "list_id": bobs_list})).await;
    assert_eq!(mismatch.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", mismatch.body);
    assert_eq!(alice.get(&format!("/tasks/{alices}")).await.body["list_id"], alices_list, "untouched");
    assert_eq!(bob.get(&format!("/tasks/{bobs}")).await.body["list_id"], bobs_list);
}

/// Moving a task between the same two neighbours again and again halves
/// their gap each time; past what a float can split, the list is renumbered
/// (once) and the order stays exactly as asked.
async fn a_gap_too_small_to_split_renumbers_the_list_and_keeps_its_order(app: TestApp) {
    let (api, _) = Api::signed_up(&app).await;
    let list = api.new_list("Tight").await;
    let (first, second, third) =
        (api.task_in("first", list).await, api.task_in("second", list).await, api.task_in("third", list).await);
    // first, second, third from the top.
    move_to(&api, first, json!({"to": "top"})).await;
    move_to(&api, third, json!({"to": "bottom"})).await;
    assert_eq!(titles(&order(&api, list, 50).await), ["first", "second", "third"]);
    let mut expected = vec!["first", "second", "third"];
    for round in 0..80 {
        // The last task, just after the first: into the gap below "first", halving it.
        let last = if expected[2] == "second" { second } else { third };
        let reply = move_to(&api, last, json!({"after_id": first})).await;
        assert_eq!(reply.status, StatusCode::OK, "round {round}: {:?}", reply.body);
        let moved = expected.remove(2);
        expected.insert(1, moved);
        let now = order(&api, list, 50).await;
        assert_eq!(titles(&now), expected, "round {round}");
        assert!(now.windows(2).all(|w| w[0].1 < w[1].1), "round {round}: positions strictly ascending: {now:?}");
    }
}

/// Two tabs reorder at once: forty moves in flight, each to the top or next
/// to another task, all answer 200, and the list ends with every task once,
/// at distinct positions, read the same through any page size.
async fn moves_made_at_once_leave_every_task_in_one_place(app: TestApp) {
    let (api, _) = Api::signed_up(&app).await;
    let list = api.new_list("Busy").await;
    let mut ids = Vec::new();
    for n in 0..10 {
        ids.push(api.task_in(&format!("t{n}"), list).await);
    }
    let moves = (0..40).map(|n| {
        let task = ids[n % 10];
        let body = match n % 4 {
            0 => json!({"to": "top"}),
            1 => json!({"after_id": ids[(n + 3) % 10]}),
            2 => json!({"before_id": ids[(n + 7) % 10]}),
            _ => json!({"to": "bottom"}),
        };
        let api = &api;
        async move { move_to(api, task, body).await }
    });
    let replies = futures::future::join_all(moves).await;
    for reply in &replies {
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    }
    let whole = order(&api, list, 50).await;
    let mut seen: Vec<&str> = titles(&whole);
    seen.sort();
    let mut all: Vec<String> = (0..10).map(|n| format!("t{n}")).collect();
    all.sort();
    assert_eq!(seen, all, "every task once");
    assert!(whole.windows(2).all(|w| w[0].1 < w[1].1), "distinct positions: {whole:?}");
    assert_eq!(titles(&order(&api, list, 3).await), titles(&whole));
}

async fn the_pages_move_tasks_without_javascript(app: TestApp) {
    let (api, _) = Api::signed_up(&app).await;
    let list = api.new_list("Chores").await;
    for title in ["sweep", "dust", "mop"] {
        api.task_in(title, list).await;
    }
    let browser = app.browser();
    let email = api.get("/me").await.body["email"].as_str().unwrap().to_owned();
    assert_eq!(browser.sign_in(&email, PASSWORD).await.status, StatusCode::SEE_OTHER);
    let newest = browser.get(&format!("/lists/{list}")).await;
    assert!(!newest.body.contains("value=\"up\""), "no Move buttons outside manual order");
    let path = format!("/lists/{list}?sort=manual");
    let page = browser.get(&path).await;
    assert!(page.body.contains("<option value=\"manual\" selected"), "the sort switch offers manual");
    let ids = page.task_ids();
    assert_eq!(ids.len(), 3);
    assert!(page.body.contains(&format!(
        "formaction=\"/tasks/{}/move\" type=\"submit\" name=\"to\" value=\"up\" class=\"move\"",
        ids[2]
    )));
    assert!(page.body.contains("aria-label=\"Move “sweep” to the top\""));
    let filtered = browser.get(&format!("{path}&q=o")).await;
    assert!(!filtered.body.contains("value=\"up\""), "no Move buttons while a filter hides some neighbours");

    let back = format!("list_id={list}&sort=manual");
    let moved = browser.post(&format!("/tasks/{}/move", ids[2]), &[("to", "up"), ("back", &back)]).await;
    assert_eq!((moved.status, moved.location()), (StatusCode::SEE_OTHER, path.as_str()));
    assert_eq!(browser.get(&path).await.task_ids(), [ids[0], ids[2], ids[1]]);
    browser.post(&format!("/tasks/{}/move", ids[1]), &[("to", "top"), ("back", &back)]).await;
    assert_eq!(browser.get(&path).await.task_ids(), [ids[1], ids[0], ids[2]]);
    browser.post(&format!("/tasks/{}/move", ids[1]), &[("to", "down"), ("back", &back)]).await;
    assert_eq!(browser.get(&path).await.task_ids(), [ids[0], ids[1], ids[2]]);
    let htmx = browser.post_htmx(&format!("/tasks/{}/move", ids[2]), &[("to", "up"), ("back", &back)]).await;
    assert_eq!(htmx.status, StatusCode::OK);
    assert!(htmx.body.contains("Moved “sweep” up."), "{}", htmx.body);
    assert_eq!(browser.get(&path).await.task_ids(), [ids[0], ids[2], ids[1]]);
    // Up from the top stays at the top; an unknown direction changes nothing.
    browser.post(&format!("/tasks/{}/move", ids[0]), &[("to", "up"), ("back", &back)]).await;
    assert_eq!(browser.get(&path).await.task_ids(), [ids[0], ids[2], ids[1]]);
    let bad = browser.post(&format!("/tasks/{}/move", ids[0]), &[("to", "sideways")]).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}
