//! Rolling deploys (`uses: hearth/deploy`) through real pushes: releases
//! unpacked side by side, the appspec.yml hooks in CodeDeploy's order, the
//! `current` link switched, a failed validation rolled back by itself, and
//! bad hooks refused before any target is touched.

mod common;

use std::path::{Path, PathBuf};

use common::ci::{Repo, repo_with};
use serde_json::Value;

/// The release's hooks: each writes what ran, where, into the target's
/// folder; ValidateService fails for a release whose version says "bad".
const APPSPEC: &str = "version: 0.0
os: linux
hooks:
  ApplicationStop:
    - location: hooks/event.sh
  BeforeInstall:
    - location: hooks/event.sh
  AfterInstall:
    - location: hooks/event.sh
  ApplicationStart:
    - location: hooks/event.sh
      timeout: 60
  ValidateService:
    - location: hooks/event.sh
    - location: hooks/validate.sh
";

const EVENT: &str = "echo \"$LIFECYCLE_EVENT $RELEASE $(cat version.txt)\" >> \"$DEPLOY_DIR/events.log\"
ls \"$DEPLOY_DIR/..\" > \"$DEPLOY_DIR/neighbours.txt\"
";

const VALIDATE: &str = "! grep -q bad version.txt\n";

fn workflow(extra: &str) -> String {
    format!(
        "on: push
jobs:
  build:
    steps:
      - run: ls /deploy-root 2>&1 || echo \"the deploy folder is not here\"
      - uses: actions/upload-artifact@v4
        with:
          name: app
          path: |
            appspec.yml
            hooks
            version.txt
  beta:
    needs: build
    environment: beta
    steps:
      - uses: hearth/deploy
        with:
          artifact: app
          max-unavailable: 1
          keep-releases: 2
          targets: |
            local:web1
            local:web2
            local:web3
{extra}"
    )
}

fn write(dir: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

fn target(root: &Path, name: &str) -> PathBuf {
    root.join("alice/demo/beta").join(name)
}

fn current(root: &Path, name: &str) -> String {
    std::fs::read_link(target(root, name).join("current"))
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

fn events(root: &Path, name: &str) -> Vec<String> {
    std::fs::read_to_string(target(root, name).join("events.log"))
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

fn deploy_log(r: &Repo, run: &Value) -> String {
    let jobs = r.jobs(run);
    r.log(r.job(&jobs, "beta"))
}

fn newest_deployment(r: &Repo) -> i64 {
    r.api("/deployments")[0]["id"].as_i64().unwrap()
}

fn statuses(r: &Repo) -> Vec<Value> {
    r.api(&format!("/deployments/{}/statuses", newest_deployment(r)))
        .as_array()
        .unwrap()
        .clone()
}

/// The deployment page's rows of targets: name, batch, state, release.
fn target_rows(r: &Repo) -> Vec<Vec<String>> {
    let page = r
        .server
        .get(&format!("/alice/demo/deployments/{}", newest_deployment(r)))
        .text()
        .unwrap();
    let html = scraper::Html::parse_document(&page);
    let rows = scraper::Selector::parse("table[aria-label=Targets] tbody tr").unwrap();
    let cells = scraper::Selector::parse("td").unwrap();
    html.select(&rows)
        .map(|row| {
            row.select(&cells)
                .take(4)
                .map(|c| c.text().collect::<String>().trim().to_string())
                .collect()
        })
        .collect()
}

#[test]
fn a_rolling_deploy_goes_batch_by_batch_and_a_failed_validation_rolls_back() {
    // Not under /tmp: a job has a /tmp of its own, where a bound folder's
    // parents would be made.
    let dir = tempfile::TempDir::new_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let root = dir.path().join("deploy-root");
    let r = repo_with(&["--deploy-dir", root.to_str().unwrap()]);
    write(
        &r.work,
        &[
            ("appspec.yml", APPSPEC),
            ("hooks/event.sh", EVENT),
            ("hooks/validate.sh", VALIDATE),
            ("version.txt", "v1\n"),
        ],
    );
    let first = r.push_workflow("deploy.yml", &workflow(""), "main");
    let run = r.wait_run(1);
    let log = deploy_log(&r, &run);
    assert_eq!(run["conclusion"], "success", "{log}");
    let release1 = format!("1-{}", &first[..12]);
    for name in ["web1", "web2", "web3"] {
        assert_eq!(current(&root, name), format!("releases/{release1}"), "{name}: {log}");
        assert_eq!(
            std::fs::read_to_string(target(&root, name).join("current/version.txt")).unwrap(),
            "v1\n"
        );
        // A first release stops nothing; then CodeDeploy's order.
        assert_eq!(
            events(&root, name),
            ["BeforeInstall", "AfterInstall", "ApplicationStart", "ValidateService"]
                .map(|e| format!("{e} {release1} v1")),
            "{name}"
        );
        // A deploy step sees its own target's folder, none of the others.
        assert_eq!(
            std::fs::read_to_string(target(&root, name).join("neighbours.txt")).unwrap(),
            format!("{name}\n")
        );
    }
    assert!(
        log.contains("batch 1: local:web1") && log.contains("batch 3: local:web3"),
        "{log}"
    );
    // Other jobs do not see the deploy folder at all.
    let jobs = r.jobs(&run);
    let build = r.log(r.job(&jobs, "build"));
    assert!(build.contains("the deploy folder is not here"), "{build}");
    assert_eq!(
        target_rows(&r),
        (1..=3)
            .map(|n| vec![
                format!("local:web{n}"),
                n.to_string(),
                "success".into(),
                release1.clone()
            ])
            .collect::<Vec<_>>()
    );

    // A release that fails its validation: the first target goes back, the
    // others are never touched, and the deployment says rolled back.
    write(&r.work, &[("version.txt", "bad\n")]);
    let second = r.commit_and_push("A bad release", "main");
    let run = r.wait_run(2);
    let log = deploy_log(&r, &run);
    assert_eq!(run["conclusion"], "failure", "{log}");
    let release2 = format!("2-{}", &second[..12]);
    for name in ["web1", "web2", "web3"] {
        assert_eq!(current(&root, name), format!("releases/{release1}"), "{name}: {log}");
    }
    let web1 = events(&root, "web1");
    assert_eq!(
        web1[4..],
        [
            format!("ApplicationStop {release1} v1"),
            format!("BeforeInstall {release2} bad"),
            format!("AfterInstall {release2} bad"),
            format!("ApplicationStart {release2} bad"),
            format!("ValidateService {release2} bad"),
            // The rollback: the bad release stops, the good one starts again.
            format!("ApplicationStop {release2} bad"),
            format!("ApplicationStart {release1} v1"),
            format!("ValidateService {release1} v1"),
        ],
        "{log}"
    );
    assert_eq!(events(&root, "web2").len(), 4, "web2 was not touched");
    assert!(
        log.contains("[local:web1] failed: ValidateService (hooks/validate.sh) failed"),
        "{log}"
    );
    assert!(log.contains("rolled back"), "{log}");
    let s = statuses(&r);
    assert_eq!(s[0]["state"], "failure", "{s:?}");
    assert!(
        s[0]["description"].as_str().unwrap().starts_with("rolled back"),
        "{s:?}"
    );
    let page = r.server.get("/alice/demo/environments").text().unwrap();
    assert!(page.contains("rolled back"), "{page}");
    let rows = target_rows(&r);
    assert_eq!(rows[0][..3], ["local:web1", "1", "rolled back"]);
    assert_eq!(rows[1][..3], ["local:web2", "2", "pending"]);
    // The release stays, immutable, beside the good one.
    assert!(target(&root, "web1").join("releases").join(&release2).is_dir());

    // A hook outside the release is refused before any target is touched.
    write(
        &r.work,
        &[
            ("version.txt", "v3\n"),
            (
                "appspec.yml",
                "hooks:\n  BeforeInstall:\n    - location: ../../../../../tmp/evil.sh\n",
            ),
        ],
    );
    r.commit_and_push("Escape", "main");
    let run = r.wait_run(3);
    let log = deploy_log(&r, &run);
    assert_eq!(run["conclusion"], "failure");
    assert!(log.contains("is not a file of the release"), "{log}");
    // A hook that is not in the artifact, likewise.
    write(
        &r.work,
        &[(
            "appspec.yml",
            "hooks:\n  BeforeInstall:\n    - location: hooks/missing.sh\n",
        )],
    );
    r.commit_and_push("Missing", "main");
    let run = r.wait_run(4);
    let log = deploy_log(&r, &run);
    assert!(log.contains("hooks/missing.sh is not in the artifact"), "{log}");
    for name in ["web1", "web2", "web3"] {
        assert_eq!(current(&root, name), format!("releases/{release1}"));
        assert_eq!(events(&root, name).len(), if name == "web1" { 12 } else { 4 });
    }

    // A good release again; only the newest two releases stay.
    write(&r.work, &[("appspec.yml", APPSPEC), ("version.txt", "v5\n")]);
    let fifth = r.commit_and_push("Good again", "main");
    let run = r.wait_run(5);
    let log = deploy_log(&r, &run);
    assert_eq!(run["conclusion"], "success", "{log}");
    let release5 = format!("5-{}", &fifth[..12]);
    let mut kept: Vec<String> = std::fs::read_dir(target(&root, "web1").join("releases"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    kept.sort();
    assert_eq!(kept, [release2, release5.clone()], "{log}");
    assert_eq!(current(&root, "web3"), format!("releases/{release5}"));
}

#[test]
fn bad_deploy_inputs_fail_the_step_with_the_reason() {
    let r = repo_with(&[]);
    write(
        &r.work,
        &[
            ("appspec.yml", "hooks: {}\n"),
            ("hooks/x.sh", ""),
            ("version.txt", "v1\n"),
        ],
    );
    let cases = [
        // No --deploy-dir: no local targets.
        ("", "this server has no --deploy-dir"),
        // ssh targets without a key, or without host keys.
        ("ssh://deploy@127.0.0.1:1/srv/app", "ssh targets need `ssh-key`"),
        ("ssh://deploy@host/../../etc", "an absolute path without '..'"),
    ];
    for (i, (targets, says)) in cases.iter().enumerate() {
        let text = workflow("").replace(
            "            local:web1\n            local:web2\n            local:web3\n",
            &format!(
                "            {}\n",
                if targets.is_empty() { "local:web1" } else { targets }
            ),
        );
        r.push_workflow("deploy.yml", &text, "main");
        let run = r.wait_run(i as i64 + 1);
        let log = deploy_log(&r, &run);
        assert_eq!(run["conclusion"], "failure", "{log}");
        assert!(log.contains(says), "{targets}: {log}");
    }
    // A deploy step outside an environment is refused when the file is read.
    std::fs::remove_file(r.work.join(".hearth/workflows/deploy.yml")).unwrap();
    r.push_workflow(
        "plain.yml",
        "on: push\njobs:\n  x:\n    steps:\n      - uses: hearth/deploy\n        with:\n          artifact: app\n          targets: local:a\n",
        "main",
    );
    let run = r.wait_run(4);
    assert_eq!(run["conclusion"], "failure");
    let error = run["error"].as_str().unwrap();
    assert!(
        error.contains("jobs.x: hearth/deploy deploys to an environment: give the job `environment:`"),
        "{run}"
    );
}
