//! `/runs/dispatch`: starting a workflow by hand, asking for its inputs.

use super::*;

#[derive(serde::Deserialize)]
pub struct DispatchForm {
    workflow: String,
    #[serde(rename = "ref")]
    rev: String,
    /// `input.NAME` fields.
    #[serde(flatten)]
    fields: std::collections::BTreeMap<String, String>,
}

pub struct InputField {
    name: String,
    description: Option<String>,
    required: bool,
    kind: InputKind,
    value: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "runs/dispatch.html")]
pub struct DispatchView {
    nav: Nav,
    header: RepoHeader,
    file: String,
    rev: String,
    name: String,
    path: String,
    sha: String,
    inputs: Vec<InputField>,
    error: Option<String>,
}

#[derive(serde::Deserialize)]
pub struct DispatchQuery {
    workflow: String,
    #[serde(rename = "ref")]
    rev: String,
}

/// The "Run workflow" page: the inputs of `workflow` at `ref`, with their defaults.
pub(super) async fn dispatch_page(
    State(state): State<AppState>,
    nav: Nav,
    access: RepoAccess<Write>,
    Query(q): Query<DispatchQuery>,
) -> Result<DispatchView> {
    dispatch_view(
        &state,
        nav,
        access,
        q.workflow.trim(),
        q.rev.trim(),
        &Default::default(),
        None,
    )
    .await
}

async fn dispatch_view(
    state: &AppState,
    nav: Nav,
    access: RepoAccess<Write>,
    file: &str,
    rev: &str,
    given: &std::collections::BTreeMap<String, String>,
    error: Option<String>,
) -> Result<DispatchView> {
    let target = crate::ci::trigger::dispatch_target(&state.config.data_dir, &access.repo, file, rev).await?;
    let inputs = target
        .workflow
        .on
        .inputs
        .iter()
        .map(|i| InputField {
            value: given.get(&i.name).or(i.default.as_ref()).cloned().unwrap_or_default(),
            name: i.name.clone(),
            description: i.description.clone(),
            required: i.required,
            kind: i.kind.clone(),
        })
        .collect();
    Ok(DispatchView {
        nav,
        header: RepoHeader::new(access.repo, access.access, Tab::Runs),
        name: target.workflow.name.clone().unwrap_or_else(|| file.to_string()),
        file: file.to_string(),
        rev: rev.to_string(),
        path: target.path,
        sha: target.sha,
        inputs,
        error,
    })
}

/// Starts the workflow (`workflow_dispatch`); bad inputs show the form again.
pub(super) async fn dispatch(
    State(state): State<AppState>,
    nav: Nav,
    access: RepoAccess<Write>,
    CsrfForm(form): CsrfForm<DispatchForm>,
) -> Result<axum::response::Response> {
    use axum::response::IntoResponse;
    let inputs: std::collections::BTreeMap<String, String> = form
        .fields
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("input.").map(|k| (k.to_string(), v.clone())))
        .collect();
    let (file, rev) = (form.workflow.trim(), form.rev.trim());
    match crate::ci::trigger::dispatch(&state.db, &state.config.data_dir, &access.repo, file, rev, &inputs).await {
        Ok(number) => {
            state.ci.wake();
            Ok(to_run(&access.repo, number).into_response())
        }
        Err(Error::Invalid(message)) => {
            let view = dispatch_view(&state, nav, access, file, rev, &inputs, Some(message)).await?;
            Ok((axum::http::StatusCode::BAD_REQUEST, view).into_response())
        }
        Err(e) => Err(e),
    }
}
