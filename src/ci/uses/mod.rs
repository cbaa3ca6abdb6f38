//! Actions that are not built in (`uses:`): from a repository (`fetch`),
//! or a folder of the workspace, each described by its `action.yml`
//! (`manifest`). JavaScript actions run with the host's `node` (`pre`,
//! `main` and `post`, each with its `-if`), composite actions step by step
//! (nested up to `MAX_DEPTH`), and Docker actions fail saying why.

pub(crate) mod fetch;
pub mod manifest;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

pub use fetch::Sources;
use manifest::{Kind, Manifest};

use super::executor::{
    END_GROUP, GROUP, LogWriter, Ran, Ready, RunWith, Shared, Work, ready, remember, run_one, run_script,
};
use super::expr;
use super::workflow::{self, Uses};
use crate::error::Result;
use crate::state::{Conclusion, Status};

/// Composite actions may nest this deep, as on GitHub.
pub const MAX_DEPTH: usize = 10;
/// A job may use this many actions from repositories, nested ones included.
pub const MAX_ACTIONS: usize = 64;
/// Where a sandboxed step sees the action of commit `{commit}`.
const SEEN_AT: &str = "/run/hearth-actions";

/// An action ready to run: its manifest and its folder.
pub struct Loaded {
    manifest: Manifest,
    /// The action's folder on this machine.
    dir: PathBuf,
    /// For `owner/repo@ref`: `owner/repo`, and the ref.
    repository: String,
    git_ref: String,
    /// Where it came from: "this server", an upstream URL, the workspace.
    from: String,
}

/// The actions of a job as it runs.
#[derive(Default)]
pub struct JobActions {
    /// By `uses:` as written: those fetched at the job's start.
    loaded: HashMap<String, Arc<Loaded>>,
    /// What each JavaScript action step saved (`$GITHUB_STATE`), by step number.
    state: HashMap<i64, Vec<(String, String)>>,
    /// `post` steps to run once the steps are done, in the order of their steps.
    posts: Vec<Post>,
    /// Numbers for the runner files of nested steps and `pre` and `post` runs.
    next_number: i64,
}

struct Post {
    /// The step whose action this is, as it ran.
    step: workflow::Step,
    number: i64,
    loaded: Arc<Loaded>,
    inputs: serde_json::Map<String, serde_json::Value>,
}

impl JobActions {
    /// A runner-file number no step of the job has.
    fn number(&mut self) -> i64 {
        self.next_number += 1;
        1_000_000 + self.next_number
    }
}

/// One `uses:` step to run.
pub struct Call<'a> {
    pub step: &'a workflow::Step,
    pub uses: &'a Uses,
    pub number: i64,
    pub deadline: Instant,
    pub depth: usize,
}

/// GitHub's "Set up job": every `owner/repo@ref` the job's steps use (and
/// the composite actions among them use) fetched, and shown to the job's
/// steps read-only in `work`. `Err`: an action that cannot be had, and why.
pub(super) async fn set_up(
    spec: &workflow::Job,
    work: &mut Work,
    with: &RunWith<'_>,
    writer: &mut LogWriter,
    shared: &mut Shared,
) -> Result<std::result::Result<(), String>> {
    let mut todo: Vec<Uses> = spec.steps.iter().filter_map(|s| s.uses.clone()).collect();
    todo.reverse();
    while let Some(uses) = todo.pop() {
        let key = uses.to_string();
        if !matches!(uses, Uses::Repository { .. }) || shared.actions.loaded.contains_key(&key) {
            continue;
        }
        if shared.actions.loaded.len() >= MAX_ACTIONS {
            return Ok(Err(format!("the job uses more than {MAX_ACTIONS} actions")));
        }
        let started = Instant::now();
        let (loaded, mount) = match load(&uses, with).await {
            Ok(l) => l,
            Err(why) => return Ok(Err(format!("{key}: {why}"))),
        };
        writer.line(&format!(
            "Hearth: {key} is commit {} from {} ({} ms)",
            mount
                .as_ref()
                .map(|(_, commit)| &commit[..12.min(commit.len())])
                .unwrap_or("?"),
            loaded.from,
            started.elapsed().as_millis()
        ));
        if let Some((root, commit)) = mount
            && !work.shown.iter().any(|(host, _)| *host == root)
        {
            work.shown.push(shown(root, &commit, with));
        }
        if let Ok(Kind::Composite(steps)) = loaded.manifest.kind()
            && let Ok(steps) = workflow::composite_steps(steps)
        {
            todo.extend(steps.into_iter().filter_map(|s| s.uses).rev());
        }
        shared.actions.loaded.insert(key, Arc::new(loaded));
    }
    Ok(Ok(()))
}

/// The unpacked tree `root` of commit `commit`, and where a step sees it.
fn shown(root: PathBuf, commit: &str, with: &RunWith<'_>) -> (PathBuf, PathBuf) {
    let inside = match with.sandbox.is_on() {
        true => PathBuf::from(SEEN_AT).join(commit),
        false => root.clone(),
    };
    (root, inside)
}

/// Fetches and reads the action `uses` names; for one from a repository,
/// also its tree's folder and commit (to show to the job).
async fn load(uses: &Uses, with: &RunWith<'_>) -> std::result::Result<(Loaded, Option<(PathBuf, String)>), String> {
    match uses {
        Uses::Repository {
            owner,
            repo,
            path,
            git_ref,
        } => {
            let fetched = with.actions.fetch(owner, repo, git_ref, with.owner).await?;
            // The action's own links may not lead out of its tree.
            let dir = super::helper::paths::within(&fetched.root, Path::new(path.as_str()))
                .map_err(|why| format!("{path}: {why}"))?;
            let manifest = read_manifest(dir.clone()).await?;
            let loaded = Loaded {
                manifest,
                dir,
                repository: format!("{owner}/{repo}"),
                git_ref: git_ref.clone(),
                from: fetched.from,
            };
            Ok((loaded, Some((fetched.root, fetched.commit))))
        }
        Uses::Local(path) => {
            // Read by the job's helper: the folder is the job's, links and all.
            let helper = with
                .work
                .helper(with.sandbox, Instant::now() + std::time::Duration::from_secs(60));
            let rel = super::helper::paths::relative(path, &helper.workspace())?;
            let dir = with.work.workspace.join(&rel);
            let names = ["action.yml", "action.yaml"].map(|f| rel.join(f).display().to_string());
            let manifest = crate::error::blocking("reading action.yml", move || {
                let bytes = helper.read(&[&names[0], &names[1]], manifest::MAX_MANIFEST_BYTES)?;
                Manifest::parse(&bytes.ok_or("it has no action.yml")?)
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|why| format!("{why} (a local action is read from the workspace: check it out first)"))?;
            Ok((
                Loaded {
                    manifest,
                    dir,
                    repository: String::new(),
                    git_ref: String::new(),
                    from: "the workspace".into(),
                },
                None,
            ))
        }
        Uses::Docker(image) => Err(format!(
            "docker://{image} needs a container engine, which this shell runner does not have"
        )),
    }
}

async fn read_manifest(dir: PathBuf) -> std::result::Result<Manifest, String> {
    crate::error::blocking("reading action.yml", move || Manifest::read(&dir))
        .await
        .map_err(|e| e.to_string())?
}

/// The `pre` of each JavaScript action the job's steps use, in step order,
/// where its `pre-if` holds (default: `always()`), before the first step.
pub(super) async fn pre_steps(
    spec: &workflow::Job,
    env: &mut BTreeMap<String, String>,
    contexts: &mut serde_json::Value,
    writer: &mut LogWriter,
    with: &RunWith<'_>,
    deadline: Instant,
    shared: &mut Shared,
) -> Result<std::result::Result<(), String>> {
    for (i, step) in spec.steps.iter().enumerate() {
        let Some(uses) = &step.uses else { continue };
        let Some(loaded) = shared.actions.loaded.get(&uses.to_string()).cloned() else {
            continue;
        };
        let Some(pre) = loaded.manifest.runs.pre.clone() else {
            continue;
        };
        if !matches!(loaded.manifest.kind(), Ok(Kind::Node { .. })) {
            continue;
        }
        let condition = loaded.manifest.runs.pre_if.as_deref().unwrap_or("always()");
        let ctx = expr::Context::new(contexts, expr::Status::Success);
        if !expr::condition(condition, &ctx).unwrap_or(false) {
            continue;
        }
        let step = match super::executor::interpolated(step, &ctx) {
            Ok(s) => s,
            Err(e) => return Ok(Err(format!("Pre {}: {e}", step.name))),
        };
        let inputs = inputs_of(&step, &loaded.manifest, contexts, writer);
        let number = i as i64 + 1;
        writer.line(&format!("{GROUP}Pre {}", step.name));
        let ran = run_node(
            &step,
            &loaded,
            &pre,
            &inputs,
            &[],
            number,
            env,
            writer,
            with,
            with.work,
            deadline,
        )
        .await?;
        writer.line(END_GROUP);
        shared.actions.state.entry(number).or_default().extend(ran.state);
        if ran.conclusion != Conclusion::Success {
            return Ok(Err(format!("Pre {} failed", step.name)));
        }
    }
    Ok(Ok(()))
}

/// Runs the action of a `uses:` step (a step of the job, or of a
/// composite action `call.depth` deep).
pub(super) async fn run(
    call: Call<'_>,
    env: &mut BTreeMap<String, String>,
    contexts: &mut serde_json::Value,
    writer: &mut LogWriter,
    with: &RunWith<'_>,
    work: &Work,
    shared: &mut Shared,
) -> Result<Ran> {
    let failed = |writer: &mut LogWriter, why: String| {
        writer.line(&format!("Hearth: {why}"));
        Ok(Ran::ended(Conclusion::Failure))
    };
    if call.depth >= MAX_DEPTH {
        return failed(writer, format!("composite actions nest more than {MAX_DEPTH} deep"));
    }
    let key = call.uses.to_string();
    // Fetched at the start, or (a local action's own actions) now.
    let mut seen_by = work.clone();
    let loaded = match shared.actions.loaded.get(&key) {
        Some(l) => l.clone(),
        None => match load(call.uses, with).await {
            Ok((loaded, mount)) => {
                if let Some((root, commit)) = mount {
                    seen_by.shown.push(shown(root, &commit, with));
                }
                Arc::new(loaded)
            }
            Err(why) => return failed(writer, format!("{key}: {why}")),
        },
    };
    let inputs = inputs_of(call.step, &loaded.manifest, contexts, writer);
    match loaded.manifest.kind() {
        Err(why) => failed(writer, format!("{key}: {why}")),
        Ok(Kind::Docker(image)) => failed(
            writer,
            format!(
                "{key} is a Docker action ({image}): it needs a container engine, which this shell runner does not have"
            ),
        ),
        Ok(Kind::Node { main }) => {
            let main = main.to_string();
            let state = shared.actions.state.get(&call.number).cloned().unwrap_or_default();
            let ran = run_node(
                call.step,
                &loaded,
                &main,
                &inputs,
                &state,
                call.number,
                env,
                writer,
                with,
                &seen_by,
                call.deadline,
            )
            .await?;
            shared
                .actions
                .state
                .entry(call.number)
                .or_default()
                .extend(ran.state.clone());
            if loaded.manifest.runs.post.is_some() {
                shared.actions.posts.push(Post {
                    step: call.step.clone(),
                    number: call.number,
                    loaded: loaded.clone(),
                    inputs,
                });
            }
            Ok(ran)
        }
        Ok(Kind::Composite(steps)) => {
            let steps = match workflow::composite_steps(steps) {
                Ok(s) => s,
                Err(why) => return failed(writer, format!("{key}: {why}")),
            };
            run_composite(
                &call, &loaded, &steps, inputs, env, contexts, writer, with, &seen_by, shared,
            )
            .await
        }
    }
}

/// The steps of a composite action, with its own `inputs` and `steps`
/// contexts; its `outputs` are evaluated over them at the end.
#[allow(clippy::too_many_arguments)]
async fn run_composite(
    call: &Call<'_>,
    loaded: &Loaded,
    steps: &[workflow::Step],
    inputs: serde_json::Map<String, serde_json::Value>,
    env: &mut BTreeMap<String, String>,
    contexts: &serde_json::Value,
    writer: &mut LogWriter,
    with: &RunWith<'_>,
    work: &Work,
    shared: &mut Shared,
) -> Result<Ran> {
    let action_path = work.seen(&loaded.dir).display().to_string();
    let mut ctx = contexts.clone();
    ctx["inputs"] = serde_json::Value::Object(inputs);
    ctx["steps"] = serde_json::json!({});
    ctx["github"]["action_path"] = serde_json::Value::String(action_path.clone());
    let mut conclusion = Conclusion::Success;
    for nested in steps {
        let mut nested = nested.clone();
        nested.env.insert("GITHUB_ACTION_PATH".into(), action_path.clone());
        let step = match ready(&nested, env, &mut ctx, conclusion, &|patterns| {
            work.helper(with.sandbox, call.deadline).hash_in_place(patterns)
        }) {
            Ready::Skipped => continue,
            Ready::Broken(e) => {
                writer.line(&format!("Hearth: {}: {e}", nested.name));
                conclusion = Conclusion::Failure;
                continue;
            }
            Ready::Run(step) => step,
        };
        if conclusion == Conclusion::TimedOut {
            break;
        }
        let number = shared.actions.number();
        writer.line(&format!("{GROUP}{}", step.name));
        let ran = Box::pin(run_one(
            &step,
            number,
            env,
            &mut ctx,
            writer,
            with,
            work,
            call.deadline,
            shared,
            call.depth + 1,
        ))
        .await?;
        writer.line(END_GROUP);
        conclusion = remember(&step, &ran, &mut ctx, writer, conclusion);
    }
    let evaluated = expr::Context::new(&ctx, expr::Status::Success);
    let outputs = loaded
        .manifest
        .outputs
        .iter()
        .filter_map(|(name, o)| {
            let value = expr::interpolate(o.value.as_deref()?, &evaluated).unwrap_or_default();
            Some((name.clone(), serde_json::Value::String(value)))
        })
        .collect();
    Ok(Ran {
        outputs,
        ..Ran::ended(conclusion)
    })
}

/// The actions' `post` steps, last first, each where its `post-if` holds
/// (default `always()`), as steps of their own after `first`; a failing
/// one fails the job. Returns what the job comes to.
#[allow(clippy::too_many_arguments)]
pub(super) async fn post_steps(
    first: i64,
    env: &mut BTreeMap<String, String>,
    contexts: &mut serde_json::Value,
    writer: &mut LogWriter,
    with: &RunWith<'_>,
    deadline: Instant,
    shared: &mut Shared,
    mut conclusion: Conclusion,
) -> Result<Conclusion> {
    let posts = std::mem::take(&mut shared.actions.posts);
    for (k, post) in posts.iter().rev().enumerate() {
        let number = first + k as i64;
        let name = format!("Post {}", post.step.name);
        with.record.add_step(number, &name).await?;
        let condition = post.loaded.manifest.runs.post_if.as_deref().unwrap_or("always()");
        let ctx = expr::Context::new(contexts, expr::Status::of(conclusion));
        let wanted = expr::condition(condition, &ctx).unwrap_or_else(|e| {
            writer.line(&format!("Hearth: {name}: post-if: {e}"));
            false
        });
        if !wanted || conclusion == Conclusion::TimedOut {
            with.record
                .step(number, Status::Completed, Some(Conclusion::Skipped), None)
                .await?;
            continue;
        }
        with.record.step(number, Status::InProgress, None, None).await?;
        writer.line(&format!("::group::{name}"));
        let script = post.loaded.manifest.runs.post.clone().unwrap_or_default();
        let state = shared.actions.state.get(&post.number).cloned().unwrap_or_default();
        let files = shared.actions.number();
        let ran = run_node(
            &post.step,
            &post.loaded,
            &script,
            &post.inputs,
            &state,
            files,
            env,
            writer,
            with,
            with.work,
            deadline,
        )
        .await?;
        writer.line("::endgroup::");
        with.record
            .step(number, Status::Completed, Some(ran.conclusion), ran.code)
            .await?;
        if ran.conclusion != Conclusion::Success && conclusion == Conclusion::Success {
            conclusion = Conclusion::Failure;
        }
    }
    Ok(conclusion)
}

/// Runs `script` of a JavaScript action with the host's `node`, as
/// GitHub's runner does: inputs as `INPUT_{NAME}`, saved state as
/// `STATE_{name}`, and `GITHUB_ACTION_PATH` and its kin.
#[allow(clippy::too_many_arguments)]
async fn run_node(
    step: &workflow::Step,
    loaded: &Loaded,
    script: &str,
    inputs: &serde_json::Map<String, serde_json::Value>,
    state: &[(String, String)],
    number: i64,
    env: &mut BTreeMap<String, String>,
    writer: &mut LogWriter,
    with: &RunWith<'_>,
    work: &Work,
    deadline: Instant,
) -> Result<Ran> {
    if let Err(why) = manifest::inside_action(script) {
        writer.line(&format!("Hearth: {why}"));
        return Ok(Ran::ended(Conclusion::Failure));
    }
    let mut node = step.clone();
    node.shell = Some("bash".into());
    node.working_directory = None;
    let action_path = work.seen(&loaded.dir);
    for (name, value) in inputs {
        let value = super::expr::to_text(value);
        node.env
            .insert(format!("INPUT_{}", name.replace(' ', "_").to_uppercase()), value);
    }
    for (name, value) in state {
        node.env.insert(format!("STATE_{name}"), value.clone());
    }
    node.env
        .insert("GITHUB_ACTION_PATH".into(), action_path.display().to_string());
    node.env
        .insert("GITHUB_ACTION_REPOSITORY".into(), loaded.repository.clone());
    node.env.insert("GITHUB_ACTION_REF".into(), loaded.git_ref.clone());
    node.env.insert(
        "HEARTH_ACTION_SCRIPT".into(),
        action_path.join(script).display().to_string(),
    );
    run_script(
        &node,
        "exec node \"$HEARTH_ACTION_SCRIPT\"",
        number,
        env,
        writer,
        with,
        work,
        deadline,
    )
    .await
}

/// An action's inputs for `step`: its `with:` values, else the defaults
/// of `action.yml` (which may be expressions, `${{ github.token }}`);
/// `with:` keys the action does not declare are passed on with a warning,
/// as GitHub does.
fn inputs_of(
    step: &workflow::Step,
    manifest: &Manifest,
    contexts: &serde_json::Value,
    writer: &mut LogWriter,
) -> serde_json::Map<String, serde_json::Value> {
    let ctx = expr::Context::new(contexts, expr::Status::Success);
    let mut out = serde_json::Map::new();
    for (name, spec) in &manifest.inputs {
        let given = step
            .with
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone());
        if given.is_some()
            && let Some(note) = &spec.deprecation_message
        {
            writer.line(&format!("Warning: input {name} is deprecated: {note}"));
        }
        let value = match given {
            Some(v) => v,
            None => {
                let default = spec.default.as_ref().map(manifest::text).unwrap_or_default();
                expr::interpolate(&default, &ctx).unwrap_or_default()
            }
        };
        out.insert(name.clone(), serde_json::Value::String(value));
    }
    let unexpected: Vec<&String> = step
        .with
        .keys()
        .filter(|k| !manifest.inputs.keys().any(|n| n.eq_ignore_ascii_case(k)))
        .collect();
    if !unexpected.is_empty() {
        let names: Vec<&str> = unexpected.iter().map(|k| k.as_str()).collect();
        writer.line(&format!(
            "Warning: unexpected input(s) {}; valid inputs are {}",
            names.join(", "),
            manifest.inputs.keys().cloned().collect::<Vec<_>>().join(", ")
        ));
        for k in unexpected {
            out.insert(k.clone(), serde_json::Value::String(step.with[k].clone()));
        }
    }
    out
}
