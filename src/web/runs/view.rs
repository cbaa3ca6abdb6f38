//! `/runs/{n}`: a run's jobs as a graph by `needs`, its artifacts
//! (downloads at `/runs/{n}/artifacts/{name}`), cancel and re-run.

use super::*;

pub struct JobRow {
    pub job: Job,
    pub state: (&'static str, &'static str),
    pub took: String,
    /// The environment it deploys to.
    pub environment: Option<String>,
    /// Held at its environment's gate, which the viewer may open: the
    /// environment's id, for the Approve and Reject buttons in its place.
    pub gate: Option<i64>,
}

/// A deployment of this run held at its environment's gate.
pub struct GateRow {
    pub environment: String,
    pub environment_id: i64,
    pub reviewers: Vec<String>,
    pub since: String,
    /// The viewer is one of the reviewers.
    pub can_review: bool,
}

/// A reviewer's decision on one of this run's deployments.
pub struct DecisionRow {
    pub who: String,
    pub what: &'static str,
    pub environment: String,
    pub when: String,
    pub comment: String,
}

pub struct ArtifactRow {
    pub name: String,
    pub size: String,
    pub files: i64,
}

/// An annotation a step made (`::error::`…), with the job it came from
/// and, when it names a file of the commit, a link to the line.
pub struct AnnotationRow {
    level: String,
    message: String,
    title: Option<String>,
    job: String,
    /// `src/lib.rs:2`, and the link to it.
    at: Option<(String, String)>,
}

#[derive(Template, WebTemplate)]
#[template(path = "runs/view.html")]
pub struct RunView {
    nav: Nav,
    /// Jobs run without a sandbox here (`--ci-sandbox off`): the page says so.
    unsandboxed: bool,
    header: RepoHeader,
    run: Run,
    state: (&'static str, &'static str),
    when: String,
    /// Jobs by stage of the `needs` graph.
    stages: Vec<Vec<JobRow>>,
    artifacts: Vec<ArtifactRow>,
    can_write: bool,
    /// What may be started again: all jobs, only the failed ones.
    rerun: (bool, bool),
    gates: Vec<GateRow>,
    decisions: Vec<DecisionRow>,
    /// Test reports, those with failures first.
    tests: Vec<crate::db::test_reports::Report>,
    annotations: Vec<AnnotationRow>,
    /// Why a review just sent was refused.
    review_error: Option<String>,
}

#[derive(serde::Deserialize)]
pub struct RunPath {
    number: RunNumber,
}

pub(super) async fn view(
    State(state): State<AppState>,
    nav: Nav,
    access: RepoAccess<Read>,
    Path(RunPath { number }): Path<RunPath>,
) -> Result<RunView> {
    render(&state, nav, access, number, None).await
}

async fn render(
    state: &AppState,
    nav: Nav,
    access: RepoAccess<Read>,
    number: RunNumber,
    review_error: Option<String>,
) -> Result<RunView> {
    use crate::db::environments;
    let id = access.repo.id;
    let viewer = access.viewer.as_ref().map(|u| u.id);
    let (run, jobs, artifacts, gates, decisions, (tests, annotations)) = state
        .db
        .read(move |c| {
            let run = runs::by_number(c, id, number)?.ok_or(Error::NotFound)?;
            let jobs = runs::jobs(c, run.id)?;
            let artifacts = crate::db::artifacts::for_run(c, run.id)?;
            let mut gates: Vec<GateRow> = Vec::new();
            let mut held = std::collections::HashMap::new();
            for d in environments::waiting_in_run(c, run.id)? {
                held.insert(d.job_id, d.environment_id.0);
                if gates.iter().any(|g| g.environment_id == d.environment_id.0) {
                    continue;
                }
                let reviewers = environments::reviewers(c, d.environment_id)?;
                gates.push(GateRow {
                    environment: d.environment.clone(),
                    environment_id: d.environment_id.0,
                    can_review: viewer.is_some_and(|v| reviewers.iter().any(|u| u.id == v)),
                    reviewers: reviewers.into_iter().map(|u| u.name).collect(),
                    since: ago(d.created_at),
                });
            }
            let mut decisions = Vec::new();
            for d in environments::deployments_of_run(c, run.id)? {
                for r in environments::reviews(c, d.id)? {
                    decisions.push(DecisionRow {
                        who: r.user.unwrap_or_else(|| "a deleted account".into()),
                        what: if r.approved { "approved" } else { "rejected" },
                        environment: d.environment.clone(),
                        when: ago(r.created_at),
                        comment: r.comment,
                    });
                }
            }
            let mut tests = crate::db::test_reports::for_run(c, run.id)?;
            tests.sort_by_key(|t| std::cmp::Reverse(t.summary.failures + t.summary.errors));
            let annotations = crate::db::annotations::for_run(c, run.id)?;
            Ok((run, jobs, artifacts, (gates, held), decisions, (tests, annotations)))
        })
        .await?;
    let (gates, held) = gates;
    let job_names: std::collections::HashMap<JobId, String> = jobs.iter().map(|j| (j.id, j.name.clone())).collect();
    let annotations = annotations
        .into_iter()
        .map(|a| {
            let at = a
                .file
                .filter(|f| !f.is_empty() && !f.starts_with('/') && !f.split('/').any(|c| c == ".."))
                .map(|file| {
                    let line = a.line.map(|l| format!(":{l}")).unwrap_or_default();
                    let anchor = a.line.map(|l| format!("#L{l}")).unwrap_or_default();
                    let link = format!("{}/blob/{}/{}{anchor}", access.repo.url(), run.head_sha, file);
                    (format!("{file}{line}"), link)
                });
            AnnotationRow {
                job: job_names.get(&a.job_id).cloned().unwrap_or_default(),
                level: a.level,
                message: a.message,
                title: a.title,
                at,
            }
        })
        .collect();
    let openable: std::collections::HashSet<i64> = gates
        .iter()
        .filter(|g| g.can_review)
        .map(|g| g.environment_id)
        .collect();
    // The jobs as a graph: stage 1 needs nothing, stage n needs jobs of
    // earlier stages only.
    let mut stages: Vec<Vec<Job>> = Vec::new();
    let mut rest = jobs;
    while !rest.is_empty() {
        // A need is placed once every job answering to it is (a called workflow's, all).
        let unplaced: Vec<String> = rest.iter().map(|j| j.key.clone()).collect();
        let placed = |need: &String| !unplaced.iter().any(|k| crate::ci::workflow::is_of(k, need));
        let (ready, waiting): (Vec<Job>, Vec<Job>) = rest.into_iter().partition(|j| j.needs.iter().all(placed));
        if ready.is_empty() {
            stages.push(waiting);
            break;
        }
        stages.push(ready);
        rest = waiting;
    }
    Ok(RunView {
        unsandboxed: !state.ci.sandbox().is_on(),
        nav,
        can_write: access.access >= Access::Write,
        header: RepoHeader::new(access.repo, access.access, Tab::Runs),
        state: badge(run.status, run.conclusion),
        gates,
        decisions,
        tests,
        annotations,
        review_error,
        rerun: (
            state::may_rerun(run.status, run.conclusion, run.error.is_some(), false).is_ok(),
            state::may_rerun(run.status, run.conclusion, run.error.is_some(), true).is_ok(),
        ),
        when: ago(run.created_at),
        stages: stages
            .into_iter()
            .map(|stage| {
                stage
                    .into_iter()
                    .map(|job| JobRow {
                        gate: held.get(&job.id).copied().filter(|e| openable.contains(e)),
                        state: badge(job.status, job.conclusion),
                        took: duration(job.started_at, job.completed_at),
                        environment: serde_json::from_str::<crate::ci::workflow::Job>(&job.spec)
                            .ok()
                            .and_then(|s| s.environment)
                            .map(|e| e.name),
                        job,
                    })
                    .collect()
            })
            .collect(),
        artifacts: artifacts
            .into_iter()
            .map(|a| ArtifactRow {
                size: crate::web::code::tree::size(a.size.max(0) as u64),
                files: a.files,
                name: a.name,
            })
            .collect(),
        run,
    })
}

#[derive(serde::Deserialize)]
pub struct ArtifactPath {
    number: RunNumber,
    name: String,
}

/// `/runs/{n}/artifacts/{name}`: the artifact as a .tar.gz download.
pub(super) async fn artifact(
    State(state): State<AppState>,
    access: RepoAccess<Read>,
    Path(ArtifactPath { number, name }): Path<ArtifactPath>,
) -> Result<axum::response::Response> {
    use axum::http::header;
    use axum::response::IntoResponse;
    let id = access.repo.id;
    let wanted = name.clone();
    let found = state
        .db
        .read(move |c| {
            let run = runs::by_number(c, id, number)?.ok_or(Error::NotFound)?;
            crate::db::artifacts::by_name(c, run.id, &wanted)?.ok_or(Error::NotFound)
        })
        .await?;
    let file = tokio::fs::File::open(state.config.data_dir.artifacts().join(&found.sha256))
        .await
        .map_err(|_| Error::NotFound)?;
    let body = axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(file));
    let disposition = format!(
        "attachment; filename=\"{}.tar.gz\"",
        name.replace(|c: char| !c.is_ascii_alphanumeric() && !"-_.".contains(c), "_")
    );
    Ok((
        [
            (header::CONTENT_TYPE, "application/gzip".to_string()),
            (header::CONTENT_LENGTH, found.size.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
        ],
        body,
    )
        .into_response())
}

pub(super) async fn cancel(
    State(state): State<AppState>,
    access: RepoAccess<Write>,
    Path(RunPath { number }): Path<RunPath>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<axum::response::Redirect> {
    let run = numbered(&state, &access.repo, number).await?;
    if run.status.is_open() {
        state.ci.cancel(run.id).await?;
    }
    Ok(to_run(&access.repo, number))
}

#[derive(serde::Deserialize)]
pub struct RerunForm {
    #[serde(default)]
    failed: String,
}

#[derive(serde::Deserialize)]
pub struct ReviewForm {
    /// The environment's id.
    environment: String,
    state: String,
    #[serde(default)]
    comment: String,
}

/// The Approve and Reject buttons of a deployment held at its gate.
pub(super) async fn review(
    State(state): State<AppState>,
    crate::web::auth::SignedIn(user): crate::web::auth::SignedIn,
    nav: Nav,
    access: RepoAccess<Write>,
    Path(RunPath { number }): Path<RunPath>,
    CsrfForm(form): CsrfForm<ReviewForm>,
) -> Result<axum::response::Response> {
    use axum::response::IntoResponse;
    let run = numbered(&state, &access.repo, number).await?;
    let env: Option<crate::db::environments::EnvironmentId> = form.environment.parse().ok();
    let approved = match (form.state.as_str(), env) {
        (_, None) => Err(Error::invalid("which environment?")),
        ("approved", Some(env)) => Ok((true, env)),
        ("rejected", Some(env)) => Ok((false, env)),
        _ => Err(Error::invalid("approve or reject")),
    };
    let decided = match approved {
        Ok((approved, env)) if form.comment.len() <= 10_000 => {
            state
                .db
                .write(move |tx| crate::delivery::review(tx, &run, &[env], &user, approved, &form.comment))
                .await
        }
        Ok(_) => Err(Error::TooLarge("the comment is too long (10,000 bytes at most)".into())),
        Err(e) => Err(e),
    };
    match decided {
        Ok(_) => {
            state.ci.wake();
            Ok(to_run(&access.repo, number).into_response())
        }
        Err(e @ (Error::Invalid(_) | Error::Forbidden(_) | Error::WrongState(_) | Error::TooLarge(_))) => {
            let status = crate::web::error::status_of(&e);
            let page = render(&state, nav, access.reading(), number, Some(e.to_string())).await?;
            Ok((status, page).into_response())
        }
        Err(e) => Err(e),
    }
}

pub(super) async fn rerun(
    State(state): State<AppState>,
    access: RepoAccess<Write>,
    Path(RunPath { number }): Path<RunPath>,
    CsrfForm(form): CsrfForm<RerunForm>,
) -> Result<axum::response::Redirect> {
    let run = numbered(&state, &access.repo, number).await?;
    let new = state.ci.rerun(access.repo.id, run.id, form.failed == "1").await?;
    Ok(to_run(&access.repo, new.run_number))
}
