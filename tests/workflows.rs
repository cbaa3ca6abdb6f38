//! Golden tests of the workflow parser through `hearth ci lint`: each
//! `tests/workflows/NAME.yml` must print exactly `NAME.out` (the job graph,
//! or the errors with file and line, then the exit code).

mod common;

use std::process::Command;

#[test]
fn lint_matches_the_golden_files() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/workflows");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yml") {
            continue;
        }
        let name = path.file_name().unwrap().to_str().unwrap();
        let expected = std::fs::read_to_string(path.with_extension("out")).unwrap();
        let out = Command::new(common::BIN)
            .args(["ci", "lint", name])
            .current_dir(&dir)
            .output()
            .unwrap();
        let actual = format!(
            "{}{}exit {}\n",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            out.status.code().unwrap_or(-1)
        );
        assert_eq!(actual, expected, "{name}");
        checked += 1;
    }
    assert!(checked >= 8, "golden files found: {checked}");
}

#[test]
fn lint_without_files_reads_the_checkout() {
    let dir = tempfile::TempDir::new().unwrap();
    let out = Command::new(common::BIN)
        .args(["ci", "lint"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no workflow files here"));
    std::fs::create_dir_all(dir.path().join(".github/workflows")).unwrap();
    std::fs::write(
        dir.path().join(".github/workflows/ci.yml"),
        "on: push\njobs:\n  a:\n    steps: [{run: 'true'}]\n",
    )
    .unwrap();
    let out = Command::new(common::BIN)
        .args(["ci", "lint"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with(".github/workflows/ci.yml: workflow"));
}
