//! The command line: help texts, environment variables, and a database
//! from a newer Hearth refused without being touched.

mod common;

use std::process::Command;

use common::{BIN, TestServer};

fn run(args: &[&str]) -> std::process::Output {
    Command::new(BIN).args(args).output().unwrap()
}

#[test]
fn every_command_has_help_naming_its_environment_variables() {
    for (args, wants) in [
        (vec!["--help"], vec!["serve", "admin"]),
        (
            vec!["serve", "--help"],
            vec![
                "--data",
                "HEARTH_DATA",
                "--listen",
                "HEARTH_LISTEN",
                "HEARTH_MAX_PUSH_SIZE",
            ],
        ),
        (vec!["admin", "--help"], vec!["create-user", "token"]),
        (
            vec!["admin", "create-user", "--help"],
            vec!["--admin", "--email", "HEARTH_DATA", "standard input"],
        ),
        (vec!["admin", "token", "--help"], vec!["--label", "HEARTH_DATA"]),
    ] {
        let out = run(&args);
        assert!(out.status.success(), "{args:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        for w in wants {
            assert!(text.contains(w), "{args:?} help mentions {w}: {text}");
        }
    }
    let out = run(&[
        "serve",
        "--max-push-size",
        "lots",
        "--listen",
        "127.0.0.1:0",
        "--data",
        "/nonexistent/x",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a size"));
}

#[test]
fn flags_come_from_the_environment_too() {
    let dir = tempfile::TempDir::new().unwrap();
    let data = dir.path().join("envdata");
    let out = Command::new(BIN)
        .args(["admin", "create-user", "alice"])
        .env("HEARTH_DATA", &data)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(b"pw-alice-1\n")?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(out.status.success());
    assert!(data.join("hearth.db").exists(), "HEARTH_DATA chose the data directory");
    let server = TestServer::start_in(&data, &[], &[("HEARTH_MAX_PUSH_SIZE", "1M")]);
    assert_eq!(server.get("/healthz").text().unwrap(), "ok");
}

#[test]
fn a_database_from_a_newer_hearth_is_refused_and_left_alone() {
    let dir = tempfile::TempDir::new().unwrap();
    let data = dir.path().join("data");
    let out = common::admin(&data, &["create-user", "alice"], "pw-alice-1\n");
    assert!(out.status.success());
    let db = rusqlite::Connection::open(data.join("hearth.db")).unwrap();
    db.pragma_update(None, "user_version", 99).unwrap();
    drop(db);
    let before = std::fs::read(data.join("hearth.db")).unwrap();

    let out = run(&["serve", "--listen", "127.0.0.1:0", "--data", data.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("schema version 99") && err.contains("newer hearth"),
        "{err}"
    );
    let out = common::admin(&data, &["token", "alice"], "");
    assert!(!out.status.success());

    let db = rusqlite::Connection::open(data.join("hearth.db")).unwrap();
    let version: i64 = db.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(version, 99);
    drop(db);
    assert_eq!(std::fs::read(data.join("hearth.db")).unwrap(), before, "not altered");
}
