//! Priority (PRODUCT.md §7): none or 1–4, set and cleared through the API
//! and the forms, shown with a text marker, filtered in both; the list's
//! orders (newest, priority, due), each paged by keyset.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::{
    api::Api,
    common::{PASSWORD, TestApp, unique_email},
};

crate::on_both_backends!(
    priorities_are_set_cleared_filtered_and_checked,
    pages_show_and_filter_priorities,
    every_sort_pages_by_keyset_and_sees_every_task_once,
);

async fn priorities_are_set_cleared_filtered_and_checked(app: TestApp) {
    let (api, _) = Api::signed_up(&app).await;
    let urgent = api.post("/tasks", json!({"title": "Urgent", "priority": 1})).await;
    assert_eq!(urgent.status, StatusCode::CREATED, "{:?}", urgent.body);
    assert_eq!(urgent.body["priority"], 1);
    let urgent = urgent.body["id"].as_i64().unwrap();
    let plain = api.create("No priority").await;
    assert_eq!(api.get(&format!("/tasks/{plain}")).await.body["priority"], serde_json::Value::Null);
    let later = api.post("/tasks", json!({"title": "Later", "priority": 4})).await.body["id"].as_i64().unwrap();

    for bad in [json!(0), json!(5), json!(-1), json!("high"), json!(1.5)] {
        let refused = api.post("/tasks", json!({"title": "Bad", "priority": bad})).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {:?}", refused.body);
        let changed = api.send(Method::PATCH, &format!("/tasks/{plain}"), Some(json!({"priority": bad}))).await;
        assert_eq!(changed.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {:?}", changed.body);
    }
    let refused = api.post("/tasks", json!({"title": "Bad", "priority": 9})).await;
    assert!(refused.body["error"]["fields"]["priority"].is_string(), "{:?}", refused.body);

    let ids = |reply: crate::api::Reply| -> Vec<i64> {
        reply.body["items"].as_array().unwrap().iter().map(|t| t["id"].as_i64().unwrap()).collect()
    };
    assert_eq!(ids(api.get("/tasks?priority=1").await), [urgent]);
    assert_eq!(ids(api.get("/tasks?priority=none").await), [plain]);
    assert_eq!(api.get("/tasks?priority=7").await.status, StatusCode::UNPROCESSABLE_ENTITY);

    let cleared = api.send(Method::PATCH, &format!("/tasks/{urgent}"), Some(json!({"priority": null}))).await;
    assert_eq!(cleared.status, StatusCode::OK);
    assert_eq!(cleared.body["priority"], serde_json::Value::Null);
    let raised = api.send(Method::PATCH, &format!("/tasks/{later}"), Some(json!({"title": "Sooner"}))).await;
    assert_eq!(raised.body["priority"], 4, "a patch without it keeps it");
    assert_eq!(ids(api.get("/tasks?priority=none").await), [plain, urgent]);
}

async fn pages_show_and_filter_priorities(app: TestApp) {
    let browser = app.browser();
    browser.sign_up(&unique_email(), PASSWORD).await;
    browser.get("/tasks").await;
    assert_eq!(
        browser.post("/tasks", &[("title", "Pay the rent"), ("priority", "2")]).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(browser.post("/tasks", &[("title", "Read a book")]).await.status, StatusCode::SEE_OTHER);
    let page = browser.get("/tasks").await;
    assert!(
        page.body.contains("<span class=\"priority p2\"><span class=\"sr\">Priority </span>P2</span>"),
        "a visible marker with its text: {}",
        page.body
    );
    let refused = browser.post("/tasks", &[("title", "Odd"), ("priority", "9")]).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("Use a priority from 1 (the highest) to 4."));

    let filtered = browser.get("/tasks?priority=2").await;
    assert_eq!(filtered.task_ids().len(), 1);
    assert!(filtered.body.contains("Pay the rent") && !filtered.body.contains("Read a book"));
    assert!(filtered.body.contains("href=\"/tasks?status=active&#38;priority=2\""), "filters keep the priority");
    let none = browser.get("/tasks?priority=none").await;
    assert!(none.body.contains("Read a book") && !none.body.contains("Pay the rent"));

    // The edit form keeps the priority and changes it.
    let id = filtered.task_ids()[0];
    let edit = browser.get(&format!("/tasks/{id}/edit")).await;
    assert!(edit.body.contains("<option value=\"2\" selected>"), "{}", edit.body);
    let saved = browser.post(&format!("/tasks/{id}"), &[("title", "Pay the rent"), ("priority", "")]).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    assert!(browser.get("/tasks?priority=none").await.body.contains("Pay the rent"));
}

async fn every_sort_pages_by_keyset_and_sees_every_task_once(app: TestApp) {
    let (api, _) = Api::signed_up(&app).await;
    // (priority, due date) of each task, created in this order (ids ascending).
    let specs = [
        (Some(2), Some("2030-01-05")),
        (None, None),
        (Some(1), Some("2030-01-05")),
        (Some(2), None),
        (None, Some("2030-01-01")),
        (Some(4), Some("2029-12-31")),
        (Some(2), Some("2030-01-05")),
        (None, None),
        (Some(1), None),
        (Some(3), Some("2030-01-01")),
        (Some(2), Some("2031-06-30")),
    ];
    let mut tasks = Vec::new();
    for (n, (priority, due)) in specs.iter().enumerate() {
        let reply =
            api.post("/tasks", json!({"title": format!("Task {n}"), "priority": priority, "due_date": due})).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
        tasks.push((reply.body["id"].as_i64().unwrap(), *priority, *due));
    }
    type Made<'a> = (i64, Option<i32>, Option<&'a str>);
    let by = |key: &dyn Fn(&Made) -> (String, i64)| {
        let mut sorted = tasks.clone();
        sorted.sort_by_key(|t| key(t));
        sorted.into_iter().map(|t| t.0).collect::<Vec<i64>>()
    };
    let expected = [
        ("newest", by(&|t| (String::new(), -t.0))),
        ("priority", by(&|t| (t.1.unwrap_or(5).to_string(), -t.0))),
        ("due", by(&|t| (t.2.unwrap_or("9999-12-31").to_owned(), -t.0))),
    ];
    for (sort, want) in expected {
        let mut walked = Vec::new();
        let mut cursor = String::new();
        for _ in 0..20 {
            let page = api.get(&format!("/tasks?sort={sort}&limit=3{cursor}")).await;
            assert_eq!(page.status, StatusCode::OK, "{sort}: {:?}", page.body);
            walked.extend(page.body["items"].as_array().unwrap().iter().map(|t| t["id"].as_i64().unwrap()));
            match page.body["next_cursor"].as_str() {
                Some(next) => cursor = format!("&cursor={next}"),
                None => break,
            }
        }
        assert_eq!(walked, want, "{sort}: pages of three, in order, each task once");
    }
    assert_eq!(api.get("/tasks?sort=sideways").await.status, StatusCode::UNPROCESSABLE_ENTITY);
    let newest_cursor = tasks[5].0.to_string();
    let mixed = api.get(&format!("/tasks?sort=priority&cursor={newest_cursor}")).await;
    assert_eq!(mixed.status, StatusCode::UNPROCESSABLE_ENTITY, "a cursor of another order is refused");

    // The pages: the same order, and Older/Newer links that keep it.
    let browser = app.browser();
    browser.sign_up(&unique_email(), PASSWORD).await;
    browser.get("/tasks").await;
    for (n, (priority, _)) in specs.iter().enumerate() {
        let priority = priority.map(|p| p.to_string()).unwrap_or_default();
        browser.post("/tasks", &[("title", &format!("Page task {n}")), ("priority", &priority)]).await;
    }
    let page = browser.get("/tasks?sort=priority").await;
    let titles: Vec<usize> = page
        .body
        .match_indices("<span class=\"title\">Page task ")
        .map(|(at, m)| page.body[at + m.len()..].split('<').next().unwrap().parse().unwrap())
        .collect();
    let mut want: Vec<usize> = (0..specs.len()).collect();
    want.sort_by_key(|n| (specs[*n].0.unwrap_or(5), std::cmp::Reverse(*n)));
    assert_eq!(titles, want);
}
