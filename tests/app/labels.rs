//! Labels (PRODUCT.md §7): the API's labels, tasks that name them, the
//! repeatable filter, merge and delete; another user's label treated
//! exactly as a missing one; the pages without JavaScript; and many
//! requests at once against the name rule and the quota.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    api::Api,
    common::{PASSWORD, unique_email},
};

crate::on_both_backends!(
    labels_follow_the_contract,
    tasks_name_their_labels_and_the_filter_wants_them_all,
    merging_moves_the_tasks_to_the_label_that_stays,
    another_users_label_answers_exactly_like_a_missing_one,
    labels_work_without_javascript_and_names_are_escaped,
    many_requests_at_once_keep_names_unique_and_the_quota_exact,
);

/// The caller's labels: `(name, id, task_count)`, by name.
async fn labels_of(api: &Api) -> Vec<(String, i64, i64)> {
    let reply = api.get("/labels").await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    reply.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["name"].as_str().unwrap().to_owned(), l["id"].as_i64().unwrap(), l["task_count"].as_i64().unwrap()))
        .collect()
}

async fn new_label(api: &Api, name: &str) -> i64 {
    let reply = api.post("/labels", json!({ "name": name })).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    reply.body["id"].as_i64().unwrap()
}

async fn labelled(api: &Api, title: &str, labels: &[&str]) -> i64 {
    let reply = api.post("/tasks", json!({ "title": title, "labels": labels })).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    reply.body["id"].as_i64().unwrap()
}

/// The titles `query` lists.
async fn titles(api: &Api, query: &str) -> Vec<String> {
    let reply = api.get(&format!("/tasks?{query}")).await;
    assert_eq!(reply.status, StatusCode::OK, "{query}: {:?}", reply.body);
    reply.body["items"].as_array().unwrap().iter().map(|t| t["title"].as_str().unwrap().to_owned()).collect()
}

async fn labels_follow_the_contract(app: crate::common::TestApp) {
    let (api, _) = Api::signed_up(&app).await;
    assert_eq!(labels_of(&api).await, []);
    let created = api.post("/labels", json!({"name": "  Work  ", "colour": "blue"})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let work = created.body["id"].as_i64().unwrap();
    assert_eq!(created.headers["location"], format!("/api/v1/labels/{work}").as_str());
    assert_eq!((&created.body["name"], &created.body["colour"]), (&json!("Work"), &json!("blue")));
    assert_eq!(created.body["task_count"], 0);
    assert_eq!(api.get(&format!("/labels/{work}")).await.body, created.body);

    let taken = api.post("/labels", json!({"name": "WORK"})).await;
    assert_eq!((taken.status, taken.code()), (StatusCode::CONFLICT, "name_taken"));
    for bad in [json!({"name": ""}), json!({"name": " "}), json!({"name": "x".repeat(51)}), json!({"name": "a,b"})] {
        let refused = api.post("/labels", bad.clone()).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {:?}", refused.body);
        assert!(refused.body["error"]["fields"]["name"].is_string(), "{:?}", refused.body);
    }
    let colour = api.post("/labels", json!({"name": "Home", "colour": "#fff"})).await;
    assert!(colour.body["error"]["fields"]["colour"].is_string(), "{:?}", colour.body);

    let home = new_label(&api, "Home").await;
    let renamed = api.patch(&format!("/labels/{work}"), json!({"name": "Job", "colour": null})).await;
    assert_eq!(renamed.status, StatusCode::OK, "{:?}", renamed.body);
    assert_eq!((&renamed.body["name"], &renamed.body["colour"]), (&json!("Job"), &Value::Null));
    assert_eq!(api.patch(&format!("/labels/{work}"), json!({"name": "home"})).await.status, StatusCode::CONFLICT);
    assert_eq!(
        api.patch(&format!("/labels/{work}"), json!({"name": null})).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    // Deleting a label leaves its tasks, without it.
    let task = labelled(&api, "Stays", &["Job", "Home"]).await;
    assert_eq!(api.delete(&format!("/labels/{work}")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(api.get(&format!("/labels/{work}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(api.delete(&format!("/labels/{work}")).await.status, StatusCode::NOT_FOUND);
    let kept = api.get(&format!("/tasks/{task}")).await;
    assert_eq!(kept.status, StatusCode::OK);
    assert_eq!(kept.body["labels"], json!(["Home"]));
    assert_eq!(labels_of(&api).await, [("Home".to_owned(), home, 1)]);
    for bad in ["/labels/0", "/labels/abc", "/labels/99999999999999999999"] {
        assert_eq!(api.get(bad).await.status, StatusCode::NOT_FOUND, "{bad}");
    }
}

async fn tasks_name_their_labels_and_the_filter_wants_them_all(app: crate::common::TestApp) {
    let (api, _) = Api::signed_up(&app).await;
    let home = new_label(&api, "Home").await;
    // Names are told apart regardless of case; an existing label keeps its spelling.
    let both = api.post("/tasks", json!({"title": "Both", "labels": ["work", " home ", "WORK"]})).await;
    assert_eq!(both.status, StatusCode::CREATED, "{:?}", both.body);
    assert_eq!(both.body["labels"], json!(["Home", "work"]));
    let both = both.body["id"].as_i64().unwrap();
    labelled(&api, "Work only", &["Work"]).await;
    labelled(&api, "Home only", &["home"]).await;
    api.create("Neither").await;
    let names: Vec<(String, i64)> = labels_of(&api).await.into_iter().map(|(n, _, c)| (n, c)).collect();
    assert_eq!(names, [("Home".to_owned(), 2), ("work".to_owned(), 2)], "made once, counted");
    assert_eq!(api.get(&format!("/labels/{home}")).await.body["task_count"], 2);

    // The list shows the same labels as the task itself.
    let listed = api.get("/tasks").await;
    let item = listed.body["items"].as_array().unwrap().iter().find(|t| t["id"] == both).unwrap().clone();
    assert_eq!(item, api.get(&format!("/tasks/{both}")).await.body);

    assert_eq!(titles(&api, "label=WORK").await, ["Work only", "Both"]);
    assert_eq!(titles(&api, "label=work&label=Home").await, ["Both"], "every label given");
    assert_eq!(titles(&api, "label=home&status=active&q=only").await, ["Home only"]);
    assert_eq!(titles(&api, "label=home&sort=priority").await, ["Home only", "Both"]);
    assert!(titles(&api, "label=nobody").await.is_empty(), "an unknown label: no tasks");
    let many: String = (0..21).map(|n| format!("label=l{n}&")).collect();
    assert_eq!(api.get(&format!("/tasks?{many}")).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(api.get("/tasks?label=").await.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(api.get("/tasks?label=a&q=x&q=y").await.status, StatusCode::UNPROCESSABLE_ENTITY);

    // PATCH replaces the labels; [] removes them; null is refused.
    let changed = api.patch(&format!("/tasks/{both}"), json!({"labels": ["Errands"]})).await;
    assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.body);
    assert_eq!(changed.body["labels"], json!(["Errands"]));
    assert_eq!(changed.body["title"], "Both", "other fields kept");
    assert_eq!(api.get(&format!("/tasks/{both}")).await.body["labels"], json!(["Errands"]));
    let cleared = api.patch(&format!("/tasks/{both}"), json!({"labels": []})).await;
    assert_eq!(cleared.body["labels"], json!([]));
    let null = api.patch(&format!("/tasks/{both}"), json!({"labels": null})).await;
    assert_eq!(null.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(null.body["error"]["fields"]["labels"].is_string());
    let too_many: Vec<String> = (0..21).map(|n| format!("l{n}")).collect();
    let refused = api.post("/tasks", json!({"title": "Overlabelled", "labels": too_many})).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body["error"]["fields"]["labels"].is_string(), "{:?}", refused.body);
    for bad in [json!(["a,b"]), json!([""]), json!(["x".repeat(51)]), json!([1])] {
        let refused = api.post("/tasks", json!({"title": "Bad label", "labels": bad})).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {:?}", refused.body);
    }
    assert!(titles(&api, "q=Overlabelled").await.is_empty() && titles(&api, "q=Bad label").await.is_empty());
}

async fn merging_moves_the_tasks_to_the_label_that_stays(app: crate::common::TestApp) {
    let (api, _) = Api::signed_up(&app).await;
    let one = labelled(&api, "One", &["Urgent"]).await;
    let two = labelled(&api, "Two", &["Urgent", "Soon"]).await;
    labelled(&api, "Three", &["Soon"]).await;
    let ids: Vec<i64> = labels_of(&api).await.into_iter().map(|(_, id, _)| id).collect();
    let (soon, urgent) = (ids[0], ids[1]);

    let itself = api.post(&format!("/labels/{urgent}/merge"), json!({"into": urgent})).await;
    assert_eq!((itself.status, itself.code()), (StatusCode::CONFLICT, "same_label"));
    let whole = api.post(&format!("/labels/{urgent}/merge"), json!({"into": 999_999_999.0})).await;
    assert_eq!(whole.status, StatusCode::NOT_FOUND, "7.0 is a whole number, as JSON Schema says");
    let fraction = api.post(&format!("/labels/{urgent}/merge"), json!({"into": 1.5})).await;
    assert_eq!(fraction.status, StatusCode::UNPROCESSABLE_ENTITY);
    let missing = api.post(&format!("/labels/{urgent}/merge"), json!({"into": 999_999_999})).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(labels_of(&api).await.len(), 2, "nothing refused changed anything");

    let merged = api.post(&format!("/labels/{urgent}/merge"), json!({"into": soon})).await;
    assert_eq!(merged.status, StatusCode::OK, "{:?}", merged.body);
    assert_eq!((merged.body["id"].as_i64(), &merged.body["name"]), (Some(soon), &json!("Soon")));
    assert_eq!(merged.body["task_count"], 3);
    assert_eq!(api.get(&format!("/labels/{urgent}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(api.get(&format!("/tasks/{one}")).await.body["labels"], json!(["Soon"]));
    assert_eq!(api.get(&format!("/tasks/{two}")).await.body["labels"], json!(["Soon"]), "carried once");
    assert_eq!(titles(&api, "label=soon").await, ["Three", "Two", "One"]);
    assert!(titles(&api, "label=urgent").await.is_empty());

    // A new name shows on every task that carries the label, in the list too.
    let renamed = api.patch(&format!("/labels/{soon}"), json!({"name": "Later"})).await;
    assert_eq!(renamed.status, StatusCode::OK);
    assert_eq!(api.get(&format!("/tasks/{two}")).await.body["labels"], json!(["Later"]));
    let listed = api.get("/tasks?label=later").await.body["items"].clone();
    assert!(listed.as_array().unwrap().iter().all(|t| t["labels"] == json!(["Later"])), "{listed}");
}

async fn another_users_label_answers_exactly_like_a_missing_one(app: crate::common::TestApp) {
    let (alice, _) = Api::signed_up(&app).await;
    let (bob, _) = Api::signed_up(&app).await;
    let secret = labelled(&alice, "Alice's plan", &["Secret"]).await;
    let theirs = labels_of(&alice).await[0].1;
    let bobs = new_label(&bob, "Mine").await;
    for (method, path, body) in [
        (Method::GET, format!("/labels/{theirs}"), None),
        (Method::PATCH, format!("/labels/{theirs}"), Some(json!({"name": "Taken over"}))),
        (Method::DELETE, format!("/labels/{theirs}"), None),
        (Method::POST, format!("/labels/{theirs}/merge"), Some(json!({"into": bobs}))),
        (Method::POST, format!("/labels/{bobs}/merge"), Some(json!({"into": theirs}))),
    ] {
        let reply = bob.send(method.clone(), &path, body.clone()).await;
        let missing = bob.send(method.clone(), &path.replace(&theirs.to_string(), "999999999"), body).await;
        assert_eq!((reply.status, &reply.body), (missing.status, &missing.body), "{method} {path}");
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {path}");
    }
    // The same name on Bob's task is Bob's own label; the filter sees his tasks only.
    labelled(&bob, "Bob's plan", &["secret"]).await;
    assert_eq!(titles(&bob, "label=Secret").await, ["Bob's plan"]);
    assert_eq!(labels_of(&alice).await, [("Secret".to_owned(), theirs, 1)], "Alice's label untouched");
    assert_eq!(alice.get(&format!("/tasks/{secret}")).await.body["labels"], json!(["Secret"]));
    assert_eq!(labels_of(&bob).await.len(), 2);
}

async fn labels_work_without_javascript_and_names_are_escaped(app: crate::common::TestApp) {
    let browser = app.browser();
    browser.sign_up(&unique_email(), PASSWORD).await;
    browser.get("/tasks").await;
    let name = "<b>Bold</b> & \"co\"";
    let added = browser.post("/tasks", &[("title", "Labelled"), ("labels", &format!("{name}, plain"))]).await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    let page = browser.get("/tasks").await;
    assert!(!page.body.contains("<b>Bold</b>"), "the name is escaped");
    assert!(page.body.contains("&#60;b&#62;Bold&#60;/b&#62; &#38; &#34;co&#34;"), "{}", page.body);
    assert!(page.body.contains("label=plain"), "a label links to its filter");
    // Screen readers hear "Labels:" once before a task's chips, then each name.
    assert!(
        page.body.contains("Labelled</span><span class=\"sr\"> Labels:</span> <a class=\"label\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("\">plain</a>"), "a chip is named by its label alone: {}", page.body);

    // A label-filtered view shows its tasks; one added there carries the label.
    browser.post("/tasks", &[("title", "Unlabelled")]).await;
    let filtered = browser.get("/tasks?label=PLAIN").await;
    assert_eq!(filtered.task_ids().len(), 1, "{}", filtered.body);
    assert!(filtered.body.contains("Stop filtering by"), "the filter can be removed");
    let added = browser.post("/tasks", &[("title", "Added while filtering"), ("back", "label=plain")]).await;
    assert_eq!(added.location(), "/tasks?label=plain");
    let filtered = browser.get("/tasks?label=plain").await;
    assert_eq!(filtered.task_ids().len(), 2);
    assert!(filtered.body.contains("Added while filtering"));

    // The edit form shows the labels and replaces them.
    let id = filtered.task_ids()[0];
    let edit = browser.get(&format!("/tasks/{id}/edit")).await;
    assert!(edit.body.contains("name=\"labels\" type=\"text\" value=\"plain\""), "{}", edit.body);
    let (path, long) = (format!("/tasks/{id}"), "x".repeat(51));
    let bad = browser.post(&path, &[("title", "Added while filtering"), ("labels", &long)]).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("name to 50 characters."), "{}", bad.body);
    let saved = browser.post(&path, &[("title", "Added while filtering"), ("labels", "errands")]).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    assert_eq!(browser.get("/tasks?label=plain").await.task_ids().len(), 1);

    // The labels page: rename, merge, delete.
    let labels = browser.get("/labels").await;
    assert_eq!(labels.status, StatusCode::OK);
    assert!(labels.body.contains("&#60;b&#62;Bold&#60;/b&#62;"), "escaped there too");
    let id_of = |body: &str, name: &str| -> String {
        let at = body.find(&format!(">{name}</a></h2>")).unwrap_or_else(|| panic!("{name} listed: {body}"));
        let start = body[..at].rfind("id=\"label-settings-").unwrap() + "id=\"label-settings-".len();
        body[start..start + body[start..].find('"').unwrap()].to_owned()
    };
    let (plain, errands) = (id_of(&labels.body, "plain"), id_of(&labels.body, "errands"));
    let taken = browser.post(&format!("/labels/{plain}"), &[("name", "ERRANDS")]).await;
    assert_eq!(taken.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(taken.body.contains("You have a label of that name already."));
    let renamed = browser.post(&format!("/labels/{plain}"), &[("name", "Simple"), ("colour", "green")]).await;
    assert_eq!(renamed.status, StatusCode::SEE_OTHER);
    assert_eq!(browser.get("/tasks?label=simple").await.task_ids().len(), 1);
    let same = browser.post("/labels/merge", &[("from", &plain), ("into", &plain)]).await;
    assert_eq!(same.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(same.body.contains("Pick two different labels to merge."));
    let merged = browser.post("/labels/merge", &[("from", &plain), ("into", &errands)]).await;
    assert_eq!(merged.status, StatusCode::SEE_OTHER);
    assert_eq!(browser.get("/tasks?label=errands").await.task_ids().len(), 2);
    let gone = browser.post(&format!("/labels/{errands}/delete"), &[]).await;
    assert_eq!(gone.status, StatusCode::SEE_OTHER);
    assert!(browser.get("/tasks?label=errands").await.task_ids().is_empty());
    assert_eq!(browser.get("/tasks").await.task_ids().len(), 3, "the tasks stay");
    assert_eq!(browser.post(&format!("/labels/{errands}/delete"), &[]).await.status, StatusCode::NOT_FOUND);
}

/// Attackers send many requests at once: twenty creates of one name get one
/// label and nineteen 409s; twenty tasks at once each naming one shared new
/// label and one of its own, under a quota of ten labels, make the shared
/// label once and stop at the quota exactly, a refused task not written at
/// all; never a 500.
async fn many_requests_at_once_keep_names_unique_and_the_quota_exact(app: crate::common::TestApp) {
    let app = app.restart_with(&[("MAX_LABELS_PER_USER", "10")]).await;
    let (api, _) = Api::signed_up(&app).await;
    let same = futures::future::join_all((0..20).map(|_| api.post("/labels", json!({"name": "Twins"})))).await;
    let statuses: Vec<u16> = same.iter().map(|r| r.status.as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| matches!(s, 201 | 409)), "{statuses:?}");

    let tasks =
        futures::future::join_all((0..20).map(|n| {
            api.post("/tasks", json!({"title": format!("Task {n}"), "labels": ["Shared", format!("Own {n}")]}))
        }))
        .await;
    let statuses: Vec<u16> = tasks.iter().map(|r| r.status.as_u16()).collect();
    assert!(statuses.iter().all(|s| matches!(s, 201 | 409)), "{statuses:?}");
    // Twins, Shared and eight of their own.
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 8, "{statuses:?}");
    let full = tasks.iter().find(|r| r.status == StatusCode::CONFLICT).unwrap();
    assert_eq!(full.code(), "quota_exceeded");
    for reply in tasks.iter().filter(|r| r.status == StatusCode::CREATED) {
        assert_eq!(reply.body["labels"].as_array().unwrap().len(), 2, "{:?}", reply.body);
    }
    let labels = labels_of(&api).await;
    assert_eq!(labels.len(), 10, "{labels:?}");
    assert_eq!(labels.iter().find(|(name, ..)| name == "Shared").unwrap().2, 8);
    assert_eq!(api.get("/tasks?limit=100").await.body["items"].as_array().unwrap().len(), 8, "refused ones unwritten");
    // Labels the account has already cost nothing.
    labelled(&api, "Reuses", &["twins", "shared"]).await;
}
