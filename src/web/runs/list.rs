//! `/{owner}/{repo}/runs`: every run, newest first, filtered by branch,
//! workflow and status, with the form that starts a workflow by hand.

use super::*;

pub struct RunRow {
    pub run: Run,
    pub state: (&'static str, &'static str),
    pub when: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "runs/list.html")]
pub struct ListView {
    nav: Nav,
    /// Jobs run without a sandbox here (`--ci-sandbox off`): the page says so.
    unsandboxed: bool,
    header: RepoHeader,
    runs: Vec<RunRow>,
    total: i64,
    can_write: bool,
    filter: runs::Filter,
    workflows: Vec<String>,
    /// Workflows of the default branch that can be started by hand (file, name).
    dispatchable: Vec<(String, String)>,
    statuses: Vec<&'static str>,
    page: u32,
    /// The query of the current filter, for page links.
    query: String,
    more: bool,
}

#[derive(serde::Deserialize)]
pub struct ListQuery {
    page: Option<u32>,
}

const PER_PAGE: u32 = 50;

pub(super) async fn list(
    State(state): State<AppState>,
    nav: Nav,
    access: RepoAccess<Read>,
    Query(filter): Query<runs::Filter>,
    Query(q): Query<ListQuery>,
) -> Result<ListView> {
    let id = access.repo.id;
    let page = q.page.unwrap_or(1).clamp(1, 10_000);
    let f = filter.clone();
    let (list, total, workflows) = state
        .db
        .read(move |c| {
            let (list, total) = runs::list(c, id, &f, PER_PAGE, (page - 1) * PER_PAGE)?;
            Ok((list, total, runs::workflows(c, id)?))
        })
        .await?;
    let dispatchable = if access.access >= Access::Write {
        crate::ci::trigger::dispatchable(&state.config.data_dir, &access.repo).await?
    } else {
        Vec::new()
    };
    let mut query = String::new();
    for (k, v) in [
        ("branch", &filter.branch),
        ("workflow", &filter.workflow),
        ("status", &filter.status),
    ] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            query.push_str(&format!("{k}={}&", crate::web::auth::url_encode(v)));
        }
    }
    Ok(ListView {
        unsandboxed: !state.ci.sandbox().is_on(),
        dispatchable,
        more: i64::from(page * PER_PAGE) < total,
        page,
        query,
        filter,
        workflows: workflows
            .into_iter()
            .map(|w| w.rsplit('/').next().unwrap_or(&w).to_string())
            .collect(),
        statuses: runs::STATUSES.iter().chain(&runs::CONCLUSIONS).copied().collect(),
        nav,
        can_write: access.access >= Access::Write,
        header: RepoHeader::new(access.repo, access.access, Tab::Runs),
        runs: list
            .into_iter()
            .map(|run| RunRow {
                state: badge(run.status, run.conclusion),
                when: ago(run.created_at),
                run,
            })
            .collect(),
        total,
    })
}
