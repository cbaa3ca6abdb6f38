//! A repository with workflows on a test server: push a workflow, wait for
//! its run, read its jobs and logs through the API.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Git, TestServer};

pub struct Repo {
    pub server: TestServer,
    pub git: Git,
    /// Who pushes, and their token.
    pub user: String,
    pub token: String,
    /// `owner/name`
    pub slug: String,
    pub work: std::path::PathBuf,
}

pub fn repo() -> Repo {
    repo_with(&[])
}

/// A repository on a server started with `args`.
pub fn repo_with(args: &[&str]) -> Repo {
    repo_on(TestServer::start_with(args))
}

/// alice (an admin) and her repository alice/demo on `server`.
pub fn repo_on(server: TestServer) -> Repo {
    let token = server.user("alice", "pw-alice-1", true);
    pushing_to(server, "alice", token, "demo")
}

/// The repository `name` of a new account `user` (not an admin) on the
/// server of `other`, which it takes over.
pub fn repo_of(other: Repo, user: &str, name: &str) -> Repo {
    let server = other.server;
    let token = server.user(user, &format!("pw-{user}-1"), false);
    pushing_to(server, user, token, name)
}

/// A new public repository `name` of `user`, and a checkout to push to it.
fn pushing_to(server: TestServer, user: &str, token: String, name: &str) -> Repo {
    server.create_repo(&token, name, false);
    let git = Git::new();
    let work = git.dir("work");
    git.ok(None, &["init", "-q", work.to_str().unwrap()]);
    std::fs::write(work.join("README.md"), "# demo\n").unwrap();
    Repo {
        server,
        git,
        user: user.into(),
        token,
        slug: format!("{user}/{name}"),
        work,
    }
}

impl Repo {
    /// Commits `workflow` as .hearth/workflows/NAME and pushes `branch`.
    pub fn push_workflow(&self, name: &str, workflow: &str, branch: &str) -> String {
        let dir = self.work.join(".hearth/workflows");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), workflow).unwrap();
        self.commit_and_push(&format!("Workflow {name}"), branch)
    }

    pub fn commit_and_push(&self, message: &str, branch: &str) -> String {
        self.git.ok(Some(&self.work), &["add", "-A"]);
        self.git
            .ok(Some(&self.work), &["commit", "-q", "--allow-empty", "-m", message]);
        let url = self
            .server
            .cred_url(&self.user, &self.token, &format!("/{}.git", self.slug));
        self.git.ok(
            Some(&self.work),
            &["push", "-q", &url, &format!("HEAD:refs/heads/{branch}")],
        );
        self.git.ok(Some(&self.work), &["rev-parse", "HEAD"]).trim().to_string()
    }

    pub fn api(&self, path: &str) -> Value {
        let (status, body) = self.server.api(
            "GET",
            &format!("/api/v1/repos/{}{path}", self.slug),
            Some(&self.token),
            None,
        );
        assert_eq!(status, 200, "{path}: {body}");
        body
    }

    pub fn runs(&self) -> Vec<Value> {
        self.api("/actions/runs")["workflow_runs"].as_array().unwrap().clone()
    }

    /// Waits for run number `n` to complete; returns it.
    pub fn wait_run(&self, n: i64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(r) = self
                .runs()
                .into_iter()
                .find(|r| r["run_number"] == n && r["status"] == "completed")
            {
                return r;
            }
            assert!(
                Instant::now() < deadline,
                "run #{n} did not complete: {:?}",
                self.runs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn jobs(&self, run: &Value) -> Vec<Value> {
        self.api(&format!("/actions/runs/{}/jobs", run["id"]))["jobs"]
            .as_array()
            .unwrap()
            .clone()
    }

    pub fn log(&self, job: &Value) -> String {
        let resp = super::client()
            .get(
                self.server
                    .url(&format!("/api/v1/repos/{}/actions/jobs/{}/logs", self.slug, job["id"])),
            )
            .header("Authorization", format!("token {}", self.token))
            .send()
            .unwrap();
        assert_eq!(resp.status(), 200);
        resp.text().unwrap()
    }

    pub fn job<'a>(&self, jobs: &'a [Value], key: &str) -> &'a Value {
        jobs.iter()
            .find(|j| j["key"] == key)
            .unwrap_or_else(|| panic!("no job {key}: {jobs:?}"))
    }
}
