//! Delivery insights from a scripted history: commits with known dates,
//! and production deployments (with their runs and test reports) written
//! into the server's database as its CI would have, at known times. The
//! figures of the API and the page equal those worked out by hand.

mod common;

use common::ci::{Repo, repo};
use serde_json::Value;

const DAY: i64 = 86_400;
const HOUR: i64 = 3600;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Commits (empty) at committer time `at` and pushes main; returns its id.
fn commit_at(r: &Repo, message: &str, at: i64) -> String {
    let date = format!("@{at} +0000");
    let out = r
        .git
        .command(Some(&r.work))
        .env("GIT_COMMITTER_DATE", &date)
        .env("GIT_AUTHOR_DATE", &date)
        .args(["commit", "-q", "--allow-empty", "-m", message])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let url = r.server.cred_url(&r.user, &r.token, &format!("/{}.git", r.slug));
    r.git.ok(Some(&r.work), &["push", "-q", &url, "HEAD:refs/heads/main"]);
    r.git.ok(Some(&r.work), &["rev-parse", "HEAD"]).trim().to_string()
}

struct History {
    db: rusqlite::Connection,
    repo: i64,
    env: i64,
    runs: i64,
}

impl History {
    fn open(r: &Repo) -> History {
        let db = rusqlite::Connection::open(r.server.data.join("hearth.db")).unwrap();
        db.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
        let repo: i64 = db
            .query_row("SELECT id FROM repos WHERE name = 'demo'", [], |r| r.get(0))
            .unwrap();
        db.execute(
            "INSERT INTO environments (repo_id, name, created_at, updated_at) VALUES (?1, 'prod', 0, 0)",
            [repo],
        )
        .unwrap();
        let env = db.last_insert_rowid();
        History { db, repo, env, runs: 0 }
    }

    /// A run of deploy.yml for `sha` that took `took` seconds and ended at
    /// `at` as `conclusion`, with its deployment to prod; returns the
    /// deployment's and the run's ids.
    fn deploy(
        &mut self,
        sha: &str,
        state: &str,
        conclusion: &str,
        at: i64,
        took: i64,
        rollback_of: Option<i64>,
    ) -> (i64, i64) {
        self.runs += 1;
        self.db
            .execute(
                "INSERT INTO runs (repo_id, run_number, workflow, name, event, head_sha, head_branch, status,
                     conclusion, created_at, updated_at)
                 VALUES (?1, ?2, '.hearth/workflows/deploy.yml', 'deploy', 'push', ?3, 'main', 'completed', ?4, ?5, ?6)",
                rusqlite::params![self.repo, 1000 + self.runs, sha, conclusion, at - took, at],
            )
            .unwrap();
        let run = self.db.last_insert_rowid();
        self.db
            .execute(
                "INSERT INTO jobs (run_id, job_key, name, spec, status, conclusion, started_at, completed_at)
                 VALUES (?1, 'prod', 'prod', '{}', 'completed', ?2, ?3, ?4)",
                rusqlite::params![run, conclusion, at - took, at],
            )
            .unwrap();
        let job = self.db.last_insert_rowid();
        self.db
            .execute(
                "INSERT INTO deployments (repo_id, environment_id, run_id, job_id, sha, ref, state, created_at, updated_at,
                     rollback_of)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'main', ?6, ?7, ?8, ?9)",
                rusqlite::params![self.repo, self.env, run, job, sha, state, at - took, at, rollback_of],
            )
            .unwrap();
        (self.db.last_insert_rowid(), run)
    }

    /// A JUnit report of `run` in which `failed` (if any) failed.
    fn report(&self, run: i64, failed: Option<&str>, at: i64) {
        let job: i64 = self
            .db
            .query_row("SELECT id FROM jobs WHERE run_id = ?1", [run], |r| r.get(0))
            .unwrap();
        self.db
            .execute(
                "INSERT INTO test_reports (run_id, job_id, name, kind, tests, failures, errors, skipped, duration_ms, created_at)
                 VALUES (?1, ?2, 'unit', 'unit', 10, ?3, 0, 0, 1000, ?4)",
                rusqlite::params![run, job, failed.is_some() as i64, at],
            )
            .unwrap();
        if let Some(name) = failed {
            let report = self.db.last_insert_rowid();
            self.db
                .execute(
                    "INSERT INTO test_failures (report_id, number, name, classname, message, output, error)
                     VALUES (?1, 1, ?2, 'auth', 'expected 200', '', 0)",
                    rusqlite::params![report, name],
                )
                .unwrap();
        }
    }
}

fn insights(r: &Repo, days: &str) -> Value {
    let (status, body) = r.server.api(
        "GET",
        &format!("/api/v1/repos/{}/insights?days={days}", r.slug),
        Some(&r.token),
        None,
    );
    assert_eq!(status, 200, "{body}");
    body
}

#[test]
fn insight_figures_equal_the_hand_computed_ones() {
    let r = repo();
    let now = now();
    let c1 = commit_at(&r, "Baseline", now - 41 * DAY);
    let _c2 = commit_at(&r, "Change two", now - 10 * DAY - 5 * HOUR);
    let c3 = commit_at(&r, "Change three", now - 10 * DAY - HOUR);
    let c4 = commit_at(&r, "Change four", now - 3 * DAY - 7 * HOUR);
    let mut h = History::open(&r);
    // Before the 30 days: the baseline.
    let (d1, _) = h.deploy(&c1, "success", "success", now - 40 * DAY, 60, None);
    // Brings c2 and c3 (lead times 5 h and 1 h); put back two hours later
    // by a rollback to d1, so it is a failure restored in 2 h.
    h.deploy(&c3, "success", "success", now - 10 * DAY, 60, None);
    h.deploy(&c1, "success", "success", now - 10 * DAY + 2 * HOUR, 120, Some(d1));
    // A failed deployment of c4, restored 30 min later by one that brings
    // c4 (lead time 7 h 30 min: it is new since d2, the rollback aside).
    let (_, failed_run) = h.deploy(&c4, "failure", "failure", now - 3 * DAY, 30, None);
    let (_, good_run) = h.deploy(&c4, "success", "success", now - 3 * DAY + 30 * 60, 90, None);
    // login failed on c4 in one run and passed in the other: flaky.
    h.report(failed_run, Some("test_login"), now - 3 * DAY);
    h.report(good_run, None, now - 3 * DAY + 30 * 60);

    let month = insights(&r, "30");
    let d = &month["dora"];
    assert_eq!(month["environment"], "prod");
    assert_eq!(d["deployments"], 3, "{month}");
    assert!((d["deployments_per_day"].as_f64().unwrap() - 0.1).abs() < 1e-9);
    assert_eq!(d["changes_deployed"], 3);
    assert_eq!(d["lead_time_seconds"], 5 * HOUR, "median of 5 h, 1 h and 7 h 30 min");
    assert_eq!(d["finished_deployments"], 4);
    assert_eq!(d["failed_deployments"], 2);
    assert_eq!(d["change_failure_rate"], 0.5);
    assert_eq!(d["restored_failures"], 2);
    assert_eq!(
        d["time_to_restore_seconds"],
        (2 * HOUR + 30 * 60) / 2,
        "median of 2 h and 30 min"
    );
    assert_eq!(d["per_day"].as_array().unwrap().len(), 30);
    let w = &month["workflows"][0];
    assert_eq!(w["workflow"], ".hearth/workflows/deploy.yml");
    assert_eq!((w["runs"].as_i64(), w["succeeded"].as_i64()), (Some(4), Some(3)));
    assert_eq!(w["success_rate"], 0.75);
    assert_eq!(w["median_duration_seconds"], 75, "median of 60, 120, 30 and 90 s");
    assert_eq!(month["flaky_tests"][0]["name"], "test_login");
    assert_eq!(month["flaky_tests"][0]["commits"], 1);

    let week = insights(&r, "7");
    let d = &week["dora"];
    assert_eq!(
        (d["deployments"].as_i64(), d["finished_deployments"].as_i64()),
        (Some(1), Some(2))
    );
    assert_eq!(d["lead_time_seconds"], 7 * HOUR + 30 * 60);
    assert_eq!(d["change_failure_rate"], 0.5);
    assert_eq!(d["time_to_restore_seconds"], 30 * 60);

    // Bad periods are refused, not answered with nothing.
    let (status, body) = r.server.api(
        "GET",
        &format!("/api/v1/repos/{}/insights?days=14", r.slug),
        Some(&r.token),
        None,
    );
    assert_eq!(status, 422, "{body}");

    // The page: the same figures, a chart, a table.
    let page = common::client()
        .get(r.server.url(&format!("/{}/insights?days=30", r.slug)))
        .send()
        .unwrap()
        .text()
        .unwrap();
    for text in [
        "Deployment frequency",
        "0.10 a day",
        "5 h 0 min",
        "50%",
        "1 h 15 min",
        "test_login",
        "<svg",
    ] {
        assert!(page.contains(text), "the page shows {text:?}");
    }

    // Another environment is production: nothing was deployed there.
    let (status, _) = r
        .server
        .api("GET", &format!("/api/v1/repos/{}/insights", r.slug), None, None);
    assert_eq!(status, 200, "a public repository's insights are public");
    let session = common::sign_in(&r.server, "alice", "pw-alice-1");
    let settings = session
        .get(r.server.url(&format!("/{}/insights", r.slug)))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let csrf = common::csrf_of(&settings);
    let saved = session
        .post(r.server.url(&format!("/{}/settings/insights", r.slug)))
        .form(&[("csrf", csrf.as_str()), ("production", "production")])
        .send()
        .unwrap();
    assert_eq!(saved.status(), 303, "saved, and back to the insights");
    let month = insights(&r, "30");
    assert_eq!(month["environment"], "production");
    assert_eq!(month["dora"]["deployments"], 0);
}
