//! The README's API examples work as written.

use std::process::Command;

use crate::common::{Backend, TestApp};

#[tokio::test]
async fn the_readme_curl_examples_run_as_written() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = &readme[readme.find("## API").expect("an API section")..];
    let start = section.find("```sh\n").expect("a sh block") + "```sh\n".len();
    let script = &section[start..start + section[start..].find("```").unwrap()];
    assert!(script.contains("curl"), "{script}");

    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let script = script.replace("http://127.0.0.1:3000", &app.base);
    let output = tokio::task::spawn_blocking(move || {
        Command::new("bash").args(["-euo", "pipefail", "-c", &script]).output().expect("bash")
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "README examples failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains(r#""title":"Buy milk""#), "{stdout}");
}
