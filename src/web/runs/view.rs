//! `/runs/{n}`: a run's jobs as a graph by `needs`, its artifacts
//! (downloads at `/runs/{n}/artifacts/{name}`), cancel and re-run.

use super::*;

pub struct JobRow {
    pub job: Job,
    pub state: (&'static str, &'static str),
    pub took: String,
    /// The environment it deploys to.
    pub environment: Option<String>,
}

pub struct ArtifactRow {
    pub name: String,
    pub size: String,
    pub files: i64,
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
    let id = access.repo.id;
    let (run, jobs, artifacts) = state
        .db
        .read(move |c| {
            let run = runs::by_number(c, id, number)?.ok_or(Error::NotFound)?;
            let jobs = runs::jobs(c, run.id)?;
            let artifacts = crate::db::artifacts::for_run(c, run.id)?;
            Ok((run, jobs, artifacts))
        })
        .await?;
    // The jobs as a graph: stage 1 needs nothing, stage n needs jobs of
    // earlier stages only.
    let mut stages: Vec<Vec<Job>> = Vec::new();
    let mut rest = jobs;
    while !rest.is_empty() {
        let placed = |key: &String| stages.iter().flatten().any(|o| &o.key == key);
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
