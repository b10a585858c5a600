//! Today and Upcoming (PRODUCT.md §7): what is due by today (overdue
//! included), what is due in the 14 days from today; in the API and as
//! pages with counts in the navigation, combined with the other filters.

use reqwest::StatusCode;
use serde_json::json;

use crate::{
    api::{Api, Reply},
    common::{PASSWORD, TestApp, unique_email},
};

crate::on_both_backends!(today_and_upcoming_show_the_right_days, the_date_views_are_pages_with_counts,);

fn day(offset: i64) -> String {
    (time::OffsetDateTime::now_utc().date() + time::Duration::days(offset)).to_string()
}

fn titles(reply: &Reply) -> Vec<String> {
    reply.body["items"].as_array().unwrap().iter().map(|t| t["title"].as_str().unwrap().to_owned()).collect()
}

async fn today_and_upcoming_show_the_right_days(app: TestApp) {
    let (api, _) = Api::signed_up(&app).await;
    for (title, due, done) in [
        ("yesterday", Some(day(-1)), false),
        ("today", Some(day(0)), false),
        ("done today", Some(day(0)), true),
        ("in 13 days", Some(day(13)), false),
        ("in 14 days", Some(day(14)), false),
        ("undated", None, false),
    ] {
        let reply =
            api.post("/tasks", json!({"title": title, "due_date": due, "completed": done, "priority": 2})).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    }
    assert_eq!(titles(&api.get("/tasks?view=today").await), ["done today", "today", "yesterday"]);
    assert_eq!(titles(&api.get("/tasks?view=today&status=active").await), ["today", "yesterday"]);
    assert_eq!(titles(&api.get("/tasks?view=upcoming&sort=due").await), ["done today", "today", "in 13 days"]);
    assert_eq!(titles(&api.get("/tasks?view=upcoming&q=13").await), ["in 13 days"]);
    assert_eq!(titles(&api.get("/tasks?view=today&priority=1").await), Vec::<String>::new());
    assert_eq!(api.get("/tasks?view=someday").await.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Pages of one, by keyset, see the same.
    let mut walked = Vec::new();
    let mut cursor = String::new();
    for _ in 0..10 {
        let page = api.get(&format!("/tasks?view=upcoming&sort=due&limit=1{cursor}")).await;
        walked.extend(titles(&page));
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(walked, ["done today", "today", "in 13 days"]);
}

async fn the_date_views_are_pages_with_counts(app: TestApp) {
    let browser = app.browser();
    browser.sign_up(&unique_email(), PASSWORD).await;
    browser.get("/tasks").await;
    for (title, due) in [("Overdue bill", day(-2)), ("Call mum", day(0)), ("Dentist", day(3)), ("Far off", day(40))] {
        let created = browser.post("/tasks", &[("title", title), ("due_date", &due)]).await;
        assert_eq!(created.status, StatusCode::SEE_OTHER);
    }
    let today = browser.get("/today").await;
    assert_eq!(today.status, StatusCode::OK);
    assert!(today.body.contains(">Today</h2>"));
    assert!(today.body.contains("Overdue bill") && today.body.contains("Call mum") && !today.body.contains("Dentist"));
    assert!(today.body.contains("Today <span class=\"count\">2</span>"));
    assert!(today.body.contains("Upcoming <span class=\"count\">2</span>"));
    assert!(!today.body.contains("id=\"toggle-all\""), "no bulk action on a date view's slice");

    // Upcoming: soonest first, a heading per day.
    let upcoming = browser.get("/upcoming").await;
    let (call, dentist) = (upcoming.body.find("Call mum").unwrap(), upcoming.body.find("Dentist").unwrap());
    assert!(call < dentist, "soonest first");
    assert!(upcoming.body.contains("<li class=\"day\"><h3>Today, "), "{}", upcoming.body);
    assert!(!upcoming.body.contains("Far off") && !upcoming.body.contains("Overdue bill"));

    // Actions stay in the view; a task added there without a date is due today.
    let id = today.task_ids()[0];
    let toggled = browser.post(&format!("/tasks/{id}/toggle"), &[("back", "view=today")]).await;
    assert_eq!((toggled.status, toggled.location()), (StatusCode::SEE_OTHER, "/today"));
    let added = browser.post("/tasks", &[("title", "Added in Today"), ("back", "view=today")]).await;
    assert_eq!(added.location(), "/today");
    assert!(browser.get("/today").await.body.contains("Added in Today"));
    assert!(browser.get("/today?q=mum").await.body.contains("Call mum"));
    assert!(!browser.get("/today?q=mum").await.body.contains("Overdue bill"), "search works inside the view");
}
