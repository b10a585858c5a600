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

#[test]
fn the_configuration_table_and_env_example_name_the_same_variables() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let table = &readme[readme.find("## Configure").unwrap()..readme.find("## API").unwrap()];
    let mut documented: Vec<&str> =
        table.lines().filter_map(|l| l.strip_prefix("| `")).filter_map(|l| l.split('`').next()).collect();
    let example = std::fs::read_to_string(format!("{root}/.env.example")).unwrap();
    let mut listed: Vec<&str> = example
        .lines()
        .filter_map(|l| l.strip_prefix("# ").or(Some(l)))
        .filter_map(|l| l.split_once('=').map(|(name, _)| name))
        .filter(|name| !name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        .collect();
    documented.sort_unstable();
    listed.sort_unstable();
    listed.dedup();
    assert_eq!(documented, listed);
    for name in &listed {
        let source = ["src/config.rs", "src/main.rs"].map(|f| std::fs::read_to_string(format!("{root}/{f}")).unwrap());
        assert!(source.iter().any(|s| s.contains(&format!("\"{name}\""))), "{name} is documented but never read");
    }
}
