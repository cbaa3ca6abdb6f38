//! `uses: hearth/deploy`: a rolling deploy in CodeDeploy's in-place model,
//! with the team's own bash. The run's artifact goes to each target in
//! batches (`max-unavailable`, `min-healthy`): unpacked into a release
//! folder of its own (`releases/{run}-{sha}`, never overwritten), the
//! lifecycle hooks of its `appspec.yml` run (`ApplicationStop` of the
//! release being replaced, then `BeforeInstall`), the `current` link
//! switched in one rename, then `AfterInstall`, `ApplicationStart`,
//! `ValidateService` and the target's health URL. When a target fails,
//! every target already touched goes back to its previous release and the
//! deployment is recorded as rolled back.
//!
//! Every command runs in the job's sandbox. A target is either a folder on
//! another machine, reached with the system's `ssh` (a key from the
//! environment's secrets; host keys from `known-hosts`, never accepted
//! blindly), where the hooks run as that machine's user; or a local folder
//! the administrator set aside (`--deploy-dir`), the only host folder the
//! step then sees. What a target is, how hooks are found and how batches
//! are cut is checked before any target is touched.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::executor::{LogWriter, Record, RunWith, Work};
use super::workflow;
use crate::db::environments::{self, DeploymentRow};
use crate::error::Result;
use crate::state::{self, Conclusion, Target as TargetState};

/// Targets one deploy step may have.
pub const MAX_TARGETS: usize = 50;
/// Releases kept per target, at most.
pub const MAX_KEEP: usize = 50;
const DEFAULT_KEEP: usize = 5;
/// A hook's time when its `timeout` does not say (CodeDeploy's longest).
const DEFAULT_HOOK_SECONDS: u64 = 3600;
/// An `appspec.yml` larger than this is not read.
const MAX_APPSPEC_BYTES: u64 = 64 << 10;
/// Scripts one lifecycle event may have.
const MAX_SCRIPTS: usize = 10;
/// Tries of a target's health URL, a second apart.
const HEALTH_TRIES: u32 = 10;
/// The link to the live release, in a target's folder.
const CURRENT: &str = "current";
/// Where a deploy step sees its local target, in the sandbox.
pub const LOCAL_TARGETS: &str = "/run/hearth-targets";

/// CodeDeploy's lifecycle events, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Hook {
    ApplicationStop,
    BeforeInstall,
    AfterInstall,
    ApplicationStart,
    ValidateService,
}

impl Hook {
    const ALL: [Hook; 5] = [
        Hook::ApplicationStop,
        Hook::BeforeInstall,
        Hook::AfterInstall,
        Hook::ApplicationStart,
        Hook::ValidateService,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Hook::ApplicationStop => "ApplicationStop",
            Hook::BeforeInstall => "BeforeInstall",
            Hook::AfterInstall => "AfterInstall",
            Hook::ApplicationStart => "ApplicationStart",
            Hook::ValidateService => "ValidateService",
        }
    }
}

/// One hook script: a file of the release, and how long it may take.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    pub location: String,
    pub seconds: u64,
}

/// The hooks of a release's `appspec.yml`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AppSpec {
    pub hooks: BTreeMap<Hook, Vec<Script>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAppSpec {
    #[allow(dead_code)]
    version: Option<serde_yaml_ng::Value>,
    os: Option<String>,
    /// CodeDeploy copies `files` into place; here the whole artifact is the release.
    #[allow(dead_code)]
    files: Option<serde_yaml_ng::Value>,
    #[allow(dead_code)]
    permissions: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    hooks: BTreeMap<String, Option<Vec<RawScript>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScript {
    location: String,
    timeout: Option<u64>,
    /// Hooks run as the target's user; `runas` is read and not used.
    #[allow(dead_code)]
    runas: Option<String>,
}

impl AppSpec {
    /// Reads `appspec.yml`; with `files` (the release's), each hook must be
    /// one of them. A hook's location may not leave the release.
    pub fn parse(text: &str, files: Option<&BTreeSet<String>>) -> std::result::Result<AppSpec, String> {
        let raw: RawAppSpec = serde_yaml_ng::from_str(text).map_err(|e| format!("appspec.yml: {e}"))?;
        if let Some(os) = &raw.os
            && os != "linux"
        {
            return Err(format!("appspec.yml: os {os:?}: targets here run linux"));
        }
        let mut spec = AppSpec::default();
        for (name, scripts) in raw.hooks {
            let Some(hook) = Hook::ALL.into_iter().find(|h| h.name() == name) else {
                let known: Vec<&str> = Hook::ALL.iter().map(|h| h.name()).collect();
                return Err(format!(
                    "appspec.yml: hooks: {name:?} is not a lifecycle event of an in-place deploy ({})",
                    known.join(", ")
                ));
            };
            let scripts = scripts.unwrap_or_default();
            if scripts.len() > MAX_SCRIPTS {
                return Err(format!("appspec.yml: {name}: at most {MAX_SCRIPTS} scripts"));
            }
            let mut list = Vec::new();
            for s in scripts {
                let location = s.location.trim().trim_start_matches("./").to_string();
                let path = Path::new(&location);
                if location.is_empty()
                    || location.chars().any(char::is_control)
                    || path.components().any(|c| !matches!(c, Component::Normal(_)))
                {
                    return Err(format!(
                        "appspec.yml: {name}: {:?} is not a file of the release (a relative path that stays inside it)",
                        s.location
                    ));
                }
                if let Some(files) = files
                    && !files.contains(&location)
                {
                    return Err(format!("appspec.yml: {name}: {location} is not in the artifact"));
                }
                let seconds = s.timeout.unwrap_or(DEFAULT_HOOK_SECONDS).clamp(1, DEFAULT_HOOK_SECONDS);
                list.push(Script { location, seconds });
            }
            spec.hooks.insert(hook, list);
        }
        Ok(spec)
    }

    fn scripts(&self, hook: Hook) -> &[Script] {
        self.hooks.get(&hook).map(Vec::as_slice).unwrap_or_default()
    }
}

/// Where a target is.
#[derive(Debug, Clone, PartialEq)]
pub enum Place {
    /// `local:NAME`: a folder under `--deploy-dir`.
    Local(String),
    /// `ssh://user@host[:port]/folder`.
    Ssh {
        user: String,
        host: String,
        port: u16,
        dir: String,
    },
}

/// A target as the `targets` input names it, with its health URL.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub name: String,
    pub place: Place,
    pub health: Option<String>,
}

fn plain(text: &str, extra: &[char]) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c) || extra.contains(&c))
}

/// The `targets` input: one per line, `local:NAME` or
/// `ssh://user@host[:port]/folder`, each optionally followed by a health
/// URL (`http://…` or `https://…`).
pub fn targets(text: &str) -> std::result::Result<Vec<Target>, String> {
    let mut out: Vec<Target> = Vec::new();
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let mut words = line.split_whitespace();
        let spec = words.next().unwrap_or_default();
        let health = words.next().map(str::to_string);
        if words.next().is_some() {
            return Err(format!("{line:?}: a target, then at most its health URL"));
        }
        if let Some(url) = &health
            && (!(url.starts_with("http://") || url.starts_with("https://"))
                || url.len() > 500
                || url.chars().any(|c| c.is_control() || "'\"\\`$".contains(c)))
        {
            return Err(format!("{url:?}: a health URL is http:// or https://"));
        }
        let place = if let Some(name) = spec.strip_prefix("local:") {
            if !plain(name, &[]) || name.starts_with('.') || name.len() > 64 {
                return Err(format!(
                    "{spec:?}: a local target's name has letters, digits, '.', '_' or '-'"
                ));
            }
            Place::Local(name.to_string())
        } else if let Some(rest) = spec.strip_prefix("ssh://") {
            ssh_place(rest).map_err(|why| format!("{spec:?}: {why}"))?
        } else {
            return Err(format!(
                "{spec:?} is not a target: local:NAME, or ssh://user@host[:port]/folder"
            ));
        };
        if out.iter().any(|t| t.place == place) {
            return Err(format!("{spec:?} is named twice"));
        }
        out.push(Target {
            name: spec.to_string(),
            place,
            health,
        });
    }
    match out.len() {
        0 => Err("`targets` names no target".into()),
        n if n > MAX_TARGETS => Err(format!("{n} targets; at most {MAX_TARGETS}")),
        _ => Ok(out),
    }
}

fn ssh_place(rest: &str) -> std::result::Result<Place, String> {
    let (authority, dir) = rest
        .split_once('/')
        .ok_or("the folder on the target is missing (ssh://user@host/srv/app)")?;
    let dir = format!("/{dir}");
    let (user, host_port) = authority.split_once('@').ok_or("the user is missing (user@host)")?;
    let (host, port) = match host_port.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().map_err(|_| format!("port {p:?} is not a number"))?),
        None => (host_port, 22),
    };
    if !plain(user, &[]) || user.starts_with('-') {
        return Err(format!("user {user:?}: letters, digits, '.', '_' or '-'"));
    }
    if !plain(host, &[]) || host.starts_with('-') {
        return Err(format!("host {host:?}: a name or an IPv4 address"));
    }
    if !plain(&dir, &['/'])
        || Path::new(&dir)
            .components()
            .any(|c| matches!(c, Component::ParentDir | Component::CurDir))
        || dir == "/"
    {
        return Err(format!("folder {dir:?}: an absolute path without '..'"));
    }
    Ok(Place::Ssh {
        user: user.into(),
        host: host.into(),
        port,
        dir: dir.trim_end_matches('/').to_string(),
    })
}

/// `max-unavailable` / `min-healthy`: a count, or a percentage of `total`
/// (rounded down, as CodeDeploy does).
pub fn count_of(text: &str, total: usize) -> std::result::Result<usize, String> {
    let t = text.trim();
    match t.strip_suffix('%') {
        Some(p) => match p.trim().parse::<usize>() {
            Ok(p) if p <= 100 => Ok(total * p / 100),
            _ => Err(format!("{text:?}: a percentage from 0% to 100%")),
        },
        None => t
            .parse::<usize>()
            .map_err(|_| format!("{text:?}: a number of targets, or a percentage")),
    }
}

fn quote(text: &str) -> String {
    // The only thing that cannot be quoted is a NUL byte, which no input here carries.
    shlex::try_quote(text).map(|q| q.into_owned()).unwrap_or_default()
}

/// A release's name must be a plain folder name (what a target reports
/// back is checked against it too).
fn release_name(text: &str) -> Option<String> {
    let t = text.trim().trim_start_matches("releases/");
    (plain(t, &[]) && !t.starts_with('.') && t.len() <= 120).then(|| t.to_string())
}

/// What a target was on before, as it reported.
#[derive(Debug, Default, Clone)]
struct Before {
    release: Option<String>,
    appspec: Option<AppSpec>,
}

/// How far a target's update got: what a rollback must undo.
#[derive(Debug, Default, Clone, Copy)]
struct Progress {
    stopped_previous: bool,
    switched: bool,
}

/// A rolling deploy under way.
struct Rollout<'a> {
    with: &'a RunWith<'a>,
    step: &'a workflow::Step,
    env: &'a BTreeMap<String, String>,
    deadline: Instant,
    deployment: DeploymentRow,
    application: String,
    release: String,
    appspec: AppSpec,
    /// Local targets' folders on the host, by name.
    local: BTreeMap<String, PathBuf>,
    /// The archive and the ssh files, as the sandbox sees them.
    archive: PathBuf,
    key: PathBuf,
    known_hosts: PathBuf,
    /// Numbers the runner files of each command.
    next: AtomicI64,
    /// A command was cancelled or ran out of the job's time: nothing more runs.
    halted: AtomicBool,
    /// The ssh connections commands share, by `user@host:port` (`None`: it did not come up).
    masters: tokio::sync::Mutex<Vec<(String, Option<tokio::process::Child>)>>,
}

/// Runs a `hearth/deploy` step.
pub(super) async fn deploy(
    step: &workflow::Step,
    env: &BTreeMap<String, String>,
    writer: &mut LogWriter,
    with: &RunWith<'_>,
    deadline: Instant,
) -> Result<Conclusion> {
    let failed = |writer: &mut LogWriter, why: String| {
        writer.line(&format!("Hearth: deploy: {why}"));
        Ok(Conclusion::Failure)
    };
    let Record::Server {
        db,
        job,
        repo,
        deploy_dir,
        ..
    } = &with.record
    else {
        return failed(
            writer,
            "hearth/deploy runs on the server, in an environment; hearth ci run does not deploy".into(),
        );
    };
    let (job, repo_id) = (*job, *repo);
    let input = |k: &str| step.with.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let targets = match targets(input("targets").unwrap_or_default()) {
        Ok(t) => t,
        Err(why) => return failed(writer, why),
    };
    let counts = (|| {
        let unavailable = count_of(input("max-unavailable").unwrap_or("1"), targets.len())?;
        let healthy = count_of(input("min-healthy").unwrap_or("0"), targets.len())?;
        let keep = match input("keep-releases") {
            None => DEFAULT_KEEP,
            Some(k) => k
                .parse::<usize>()
                .ok()
                .filter(|k| (1..=MAX_KEEP).contains(k))
                .ok_or(format!("keep-releases {k:?}: 1 to {MAX_KEEP}"))?,
        };
        let batch = state::batch_size(targets.len(), unavailable, healthy).ok_or(format!(
            "min-healthy {healthy} of {} targets leaves none to update",
            targets.len()
        ))?;
        Ok::<_, String>((batch, keep))
    })();
    let (batch, keep) = match counts {
        Ok(c) => c,
        Err(why) => return failed(writer, why),
    };
    let found = db
        .read(move |c| {
            let d = environments::deployment_of_job(c, job)?;
            let r = crate::db::repos::by_id(c, repo_id)?;
            let run = match &d {
                Some(d) => crate::db::runs::by_id(c, repo_id, d.run_id)?,
                None => None,
            };
            Ok((d, r, run))
        })
        .await?;
    let (Some(deployment), Some(repo), Some(run)) = found else {
        return failed(writer, "this job has no deployment (give it `environment:`)".into());
    };
    // The artifact, and its hooks, checked before anything is touched.
    let name = input("artifact").unwrap_or_default().to_string();
    let Some((_, sha)) = with.record.artifacts().await?.into_iter().find(|(n, _)| *n == name) else {
        return failed(
            writer,
            format!("this run has no artifact named {name:?} (upload it in an earlier job)"),
        );
    };
    let store = with.record.store();
    let read = {
        let (store, sha) = (store.clone(), sha.clone());
        crate::error::blocking("reading an artifact", move || {
            super::artifacts::contents(&store, &sha, "appspec.yml", MAX_APPSPEC_BYTES)
        })
        .await?
    };
    let appspec = match read {
        Err(e) => return failed(writer, format!("artifact {name:?}: {e}")),
        Ok((_, None)) => {
            writer.line("Hearth: deploy: the artifact has no appspec.yml: no hooks run");
            AppSpec::default()
        }
        Ok((files, Some(bytes))) => match AppSpec::parse(&String::from_utf8_lossy(&bytes), Some(&files)) {
            Ok(spec) => spec,
            Err(why) => return failed(writer, why),
        },
    };
    let ssh_targets = targets.iter().any(|t| matches!(t.place, Place::Ssh { .. }));
    if ssh_targets && input("ssh-key").is_none() {
        return failed(
            writer,
            "ssh targets need `ssh-key` (a private key, from the environment's secrets)".into(),
        );
    }
    if ssh_targets && input("known-hosts").is_none() {
        return failed(
            writer,
            "ssh targets need `known-hosts` (their host keys, as ssh-keyscan prints them); \
             a host key is never accepted blindly"
                .into(),
        );
    }
    let mut local = BTreeMap::new();
    for t in &targets {
        let Place::Local(target) = &t.place else { continue };
        let Some(root) = deploy_dir else {
            return failed(
                writer,
                format!(
                    "{}: this server has no --deploy-dir, so no local targets; use ssh:// targets",
                    t.name
                ),
            );
        };
        let env_name = &deployment.environment;
        if !plain(env_name, &[' ']) || env_name.starts_with('.') {
            return failed(
                writer,
                format!("environment {env_name:?}: local targets need a plain environment name"),
            );
        }
        local.insert(
            target.clone(),
            root.join(&repo.owner).join(&repo.name).join(env_name).join(target),
        );
    }
    {
        let (dirs, owner) = (local.values().cloned().collect::<Vec<_>>(), with.sandbox.owner());
        let root = deploy_dir.clone().unwrap_or_default();
        let made = crate::error::blocking("making deploy folders", move || {
            use std::os::unix::fs::PermissionsExt;
            for dir in &dirs {
                std::fs::create_dir_all(dir)?;
                if let Some((uid, gid)) = owner {
                    std::os::unix::fs::chown(dir, Some(uid), Some(gid))?;
                }
                // Readable by what serves them (the server's own umask is 077).
                for up in dir.ancestors().take_while(|a| a.starts_with(&root) && *a != root) {
                    std::fs::set_permissions(up, std::fs::Permissions::from_mode(0o755))?;
                }
            }
            Ok::<_, std::io::Error>(())
        })
        .await?;
        if let Err(e) = made {
            return failed(writer, format!("the local targets' folders could not be made: {e}"));
        }
    }
    let owner = with.sandbox.owner();
    let work = with.work;
    let archive = {
        let (from, to) = (store.join(&sha), work.runner.join("deploy.tar.gz"));
        crate::error::blocking("copying an artifact", move || {
            let _ = std::fs::remove_file(&to);
            std::fs::copy(&from, &to)?;
            if let Some((uid, gid)) = owner {
                std::os::unix::fs::chown(&to, Some(uid), Some(gid))?;
            }
            Ok::<_, std::io::Error>(to)
        })
        .await??
    };
    let key = work.runner_file(
        "deploy-key",
        format!("{}\n", input("ssh-key").unwrap_or_default()).as_bytes(),
        owner,
    )?;
    let known_hosts = work.runner_file(
        "deploy-known-hosts",
        format!("{}\n", input("known-hosts").unwrap_or_default()).as_bytes(),
        owner,
    )?;
    with.record.used_artifact(&name, &sha).await?;
    let release = format!("{}-{}", run.run_number, &deployment.sha[..deployment.sha.len().min(12)]);
    let plan: Vec<(String, i64)> = targets
        .iter()
        .enumerate()
        .map(|(i, t)| (t.name.clone(), (i / batch) as i64 + 1))
        .collect();
    let id = deployment.id;
    db.write(move |tx| environments::start_targets(tx, id, &plan)).await?;
    let rollout = Rollout {
        with,
        step,
        env,
        deadline,
        application: repo.full_name(),
        deployment,
        release,
        appspec,
        local,
        archive: work.seen(&archive),
        key: work.seen(&key),
        known_hosts: work.seen(&known_hosts),
        next: AtomicI64::new(1000),
        halted: AtomicBool::new(false),
        masters: Default::default(),
    };
    let batches = targets.len().div_ceil(batch);
    writer.line(&format!(
        "Hearth: deploy: release {} of artifact {name:?} (sha256 {sha}) to {} targets, {batch} at a time ({batches} batches)",
        rollout.release,
        targets.len()
    ));
    let conclusion = rollout.roll(&targets, batch, keep, writer).await;
    for path in [&key, &known_hosts, &archive] {
        let _ = std::fs::remove_file(path);
    }
    conclusion
}

impl Rollout<'_> {
    /// Every batch in turn; a failed one puts every touched target back.
    async fn roll(&self, targets: &[Target], batch: usize, keep: usize, writer: &mut LogWriter) -> Result<Conclusion> {
        let mut touched: Vec<(usize, Before, Progress)> = Vec::new();
        for (b, chunk) in targets.chunks(batch).enumerate() {
            let names: Vec<&str> = chunk.iter().map(|t| t.name.as_str()).collect();
            writer.line(&format!("Hearth: deploy: batch {}: {}", b + 1, names.join(", ")));
            for (i, target) in chunk.iter().enumerate() {
                let position = b * batch + i;
                self.mark(position, TargetState::InProgress, "", "", "updating").await?;
                let mut before = Before::default();
                let mut progress = Progress::default();
                let result = self.update(target, &mut before, &mut progress, writer).await?;
                let previous = before.release.clone().unwrap_or_default();
                match result {
                    Ok(()) => {
                        writer.line(&format!(
                            "Hearth: deploy: [{}] on release {}",
                            target.name, self.release
                        ));
                        self.mark(position, TargetState::Success, &self.release, &previous, "")
                            .await?;
                        touched.push((position, before, progress));
                    }
                    Err(why) => {
                        writer.line(&format!("Hearth: deploy: [{}] failed: {why}", target.name));
                        self.mark(position, TargetState::Failure, &self.release, &previous, &why)
                            .await?;
                        touched.push((position, before, progress));
                        if self.stopped() {
                            writer.line(
                                "Hearth: deploy: stopped; targets already updated stay on the new release \
                                 (redeploy an earlier deployment to go back)",
                            );
                            return Ok(Conclusion::Failure);
                        }
                        return self.roll_back(targets, touched, &why, writer).await;
                    }
                }
            }
        }
        for target in targets {
            self.prune(target, keep, writer).await?;
        }
        Ok(Conclusion::Success)
    }

    /// Out of time or cancelled: nothing more can run.
    fn stopped(&self) -> bool {
        self.halted.load(Ordering::Relaxed) || Instant::now() >= self.deadline
    }

    async fn mark(&self, position: usize, to: TargetState, release: &str, previous: &str, message: &str) -> Result<()> {
        let Record::Server { db, .. } = &self.with.record else {
            return Ok(());
        };
        let (id, release, previous, message) = (
            self.deployment.id,
            release.to_string(),
            previous.to_string(),
            message.chars().take(500).collect::<String>(),
        );
        db.write(move |tx| environments::set_target(tx, id, position as i64, to, &release, &previous, &message))
            .await
    }

    /// Updates one target; `Err` says why it failed.
    async fn update(
        &self,
        target: &Target,
        before: &mut Before,
        progress: &mut Progress,
        writer: &mut LogWriter,
    ) -> Result<std::result::Result<(), String>> {
        let r = quote(&format!("releases/{}", self.release));
        let partial = quote(&format!("releases/.partial-{}", self.deployment.id));
        let archive = match target.place {
            Place::Local(_) => quote(&self.archive.display().to_string()),
            Place::Ssh { .. } => "-".to_string(),
        };
        let prepare = format!(
            "mkdir -p releases\n\
             previous=$(readlink {CURRENT} 2>/dev/null || true)\n\
             printf 'previous=%s\\n' \"${{previous#releases/}}\"\n\
             if [ -n \"$previous\" ] && [ -f \"$previous/appspec.yml\" ]; then\n\
               printf 'appspec=%s\\n' \"$(head -c {MAX_APPSPEC_BYTES} \"$previous/appspec.yml\" | base64 -w0)\"\n\
             fi\n\
             if [ -d {r} ]; then\n\
               echo \"{} is on this target already and is used as it is\" >&2\n\
             else\n\
               rm -rf {partial} && mkdir {partial}\n\
               tar -xzf {archive} -C {partial} --no-same-owner\n\
               mv -T {partial} {r}\n\
             fi\n",
            self.release
        );
        let reported = self.on(target, "unpack", &prepare, 600, Io::Upload, writer).await?;
        let Some(reported) = reported else {
            return Ok(Err("the release could not be unpacked on the target".into()));
        };
        before.release = reported.get("previous").and_then(|p| release_name(p));
        before.appspec = reported.get("appspec").and_then(|b| {
            use base64::Engine;
            let bytes = base64::engine::general_purpose::STANDARD.decode(b.trim()).ok()?;
            match AppSpec::parse(&String::from_utf8_lossy(&bytes), None) {
                Ok(spec) => Some(spec),
                Err(why) => {
                    writer.line(&format!("Warning: the previous release's {why}; its hooks do not run"));
                    None
                }
            }
        });
        if let (Some(previous), Some(spec)) = (&before.release, &before.appspec) {
            progress.stopped_previous = true;
            if let Err(why) = self
                .hooks(target, spec, Hook::ApplicationStop, previous, writer)
                .await?
            {
                return Ok(Err(why));
            }
        }
        if let Err(why) = self
            .hooks(target, &self.appspec, Hook::BeforeInstall, &self.release, writer)
            .await?
        {
            return Ok(Err(why));
        }
        if !self.switch(target, Some(&self.release), writer).await? {
            return Ok(Err(format!("the {CURRENT} link could not be switched")));
        }
        progress.switched = true;
        for hook in [Hook::AfterInstall, Hook::ApplicationStart, Hook::ValidateService] {
            if let Err(why) = self.hooks(target, &self.appspec, hook, &self.release, writer).await? {
                return Ok(Err(why));
            }
        }
        self.healthy(target, writer).await
    }

    /// Puts every touched target back on its previous release, the latest first.
    async fn roll_back(
        &self,
        targets: &[Target],
        touched: Vec<(usize, Before, Progress)>,
        why: &str,
        writer: &mut LogWriter,
    ) -> Result<Conclusion> {
        let touched: Vec<_> = touched
            .into_iter()
            .rev()
            // A target whose update failed before anything changed there is as it was.
            .filter(|(_, _, p)| p.stopped_previous || p.switched)
            .collect();
        if touched.is_empty() {
            writer.line("Hearth: deploy: no target was changed");
            return Ok(Conclusion::Failure);
        }
        writer.line("Hearth: deploy: rolling back every target already touched");
        let mut all_back = true;
        for (position, before, progress) in touched {
            let target = &targets[position];
            let back = self.put_back(target, &before, progress, writer).await?;
            let previous = before.release.clone().unwrap_or_default();
            match back {
                Ok(()) => {
                    let message = match &before.release {
                        Some(p) => format!("back on release {p}"),
                        None => "no earlier release: the current link was removed".into(),
                    };
                    writer.line(&format!("Hearth: deploy: [{}] rolled back: {message}", target.name));
                    self.mark(position, TargetState::RolledBack, "", &previous, &message)
                        .await?;
                }
                Err(e) => {
                    all_back = false;
                    writer.line(&format!(
                        "Hearth: deploy: [{}] could not be rolled back: {e}",
                        target.name
                    ));
                    self.mark(
                        position,
                        TargetState::Failure,
                        "",
                        &previous,
                        &format!("rollback failed: {e}"),
                    )
                    .await?;
                }
            }
        }
        let end = state::rolling_failed(all_back);
        let Record::Server { db, .. } = &self.with.record else {
            return Ok(Conclusion::Failure);
        };
        let (id, said) = (self.deployment.id, format!("rolled back: {why}"));
        db.write(move |tx| environments::set_state(tx, id, end, &said)).await?;
        writer.line(&format!("Hearth: deploy: {}", end.as_str().replace('_', " ")));
        Ok(Conclusion::Failure)
    }

    async fn put_back(
        &self,
        target: &Target,
        before: &Before,
        progress: Progress,
        writer: &mut LogWriter,
    ) -> Result<std::result::Result<(), String>> {
        if progress.switched {
            // The new release stops; what it says does not stop the rollback.
            if let Err(why) = self
                .hooks(target, &self.appspec, Hook::ApplicationStop, &self.release, writer)
                .await?
            {
                writer.line(&format!("Warning: [{}] {why}; rolling back anyway", target.name));
            }
            if !self.switch(target, before.release.as_deref(), writer).await? {
                return Ok(Err(format!("the {CURRENT} link could not be put back")));
            }
        }
        let (Some(previous), Some(spec)) = (&before.release, &before.appspec) else {
            return Ok(Ok(()));
        };
        for hook in [Hook::ApplicationStart, Hook::ValidateService] {
            if let Err(why) = self.hooks(target, spec, hook, previous, writer).await? {
                return Ok(Err(why));
            }
        }
        self.healthy(target, writer).await
    }

    /// Points `current` at `release` (or removes it) in one rename.
    async fn switch(&self, target: &Target, release: Option<&str>, writer: &mut LogWriter) -> Result<bool> {
        let script = match release {
            Some(r) => format!(
                "ln -sfn {} {CURRENT}.hearth-new && mv -T {CURRENT}.hearth-new {CURRENT}\n",
                quote(&format!("releases/{r}"))
            ),
            None => format!("rm -f {CURRENT}\n"),
        };
        Ok(self
            .on(target, "switch", &script, 60, Io::None, writer)
            .await?
            .is_some())
    }

    /// Runs the scripts of `hook` from `spec`, in release `release`.
    async fn hooks(
        &self,
        target: &Target,
        spec: &AppSpec,
        hook: Hook,
        release: &str,
        writer: &mut LogWriter,
    ) -> Result<std::result::Result<(), String>> {
        for script in spec.scripts(hook) {
            let release_dir = format!("releases/{release}");
            let vars = [
                ("LIFECYCLE_EVENT", hook.name().to_string()),
                ("DEPLOYMENT_ID", self.deployment.id.to_string()),
                ("DEPLOYMENT_GROUP_NAME", self.deployment.environment.clone()),
                ("APPLICATION_NAME", self.application.clone()),
                ("DEPLOY_TARGET", target.name.clone()),
                ("RELEASE", release.to_string()),
            ];
            let mut text: String = vars.iter().map(|(k, v)| format!("export {k}={}\n", quote(v))).collect();
            text.push_str("export DEPLOY_DIR=\"$PWD\"\n");
            text.push_str(&format!(
                "export RELEASE_DIR=\"$PWD\"/{}\ncd {}\nbash ./{}\n",
                quote(&release_dir),
                quote(&release_dir),
                quote(&script.location)
            ));
            let what = format!("{} {}", hook.name(), script.location);
            if self
                .on(target, &what, &text, script.seconds, Io::None, writer)
                .await?
                .is_none()
            {
                return Ok(Err(format!("{} ({}) failed", hook.name(), script.location)));
            }
        }
        Ok(Ok(()))
    }

    /// The target's health URL answers, within `HEALTH_TRIES` seconds.
    async fn healthy(&self, target: &Target, writer: &mut LogWriter) -> Result<std::result::Result<(), String>> {
        let Some(url) = &target.health else {
            return Ok(Ok(()));
        };
        let url = quote(url);
        let script = format!(
            "for i in $(seq {HEALTH_TRIES}); do\n\
               if curl -fsS --max-time 5 -o /dev/null {url}; then exit 0; fi\n\
               sleep 1\n\
             done\n\
             exit 1\n"
        );
        let ok = self.here(target, "health", &script, 60, false, writer).await?.is_some();
        Ok(if ok {
            Ok(())
        } else {
            Err(format!("{url} did not answer"))
        })
    }

    /// Removes all but the newest `keep` releases (never the live one).
    async fn prune(&self, target: &Target, keep: usize, writer: &mut LogWriter) -> Result<()> {
        let script = format!(
            "cd releases\n\
             live=$(basename \"$(readlink ../{CURRENT})\")\n\
             ls -1t | tail -n +{} | while IFS= read -r old; do\n\
               if [ \"$old\" != \"$live\" ]; then rm -rf -- \"$old\"; echo \"removed release $old\"; fi\n\
             done\n",
            keep + 1
        );
        self.on(target, "prune", &script, 120, Io::None, writer).await?;
        Ok(())
    }

    /// Runs `script` in the target's folder: there over ssh, or here in
    /// the sandbox with the local folder bound in. `None` when it failed;
    /// else what it printed as `key=value` lines when `io` captures.
    async fn on(
        &self,
        target: &Target,
        what: &str,
        script: &str,
        seconds: u64,
        io: Io,
        writer: &mut LogWriter,
    ) -> Result<Option<BTreeMap<String, String>>> {
        let capture = matches!(io, Io::Upload);
        let local = match &target.place {
            Place::Local(name) => {
                let dir = self.local_seen(name);
                format!(
                    "set -e\ncd {}\n{{\n{script}}}{}\n",
                    quote(&dir.display().to_string()),
                    if capture { " >> \"$GITHUB_OUTPUT\"" } else { "" }
                )
            }
            Place::Ssh { user, host, port, dir } => {
                let remote = format!("set -e\nmkdir -p {0}\ncd {0}\n{script}", quote(dir));
                let mut argv = self.ssh_argv(user, host, *port, self.master(user, host, *port).await);
                argv.push(format!("bash -c {}", quote(&remote)));
                let mut line = argv.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ");
                if capture {
                    line.push_str(&format!(
                        " < {} >> \"$GITHUB_OUTPUT\"",
                        quote(&self.archive.display().to_string())
                    ));
                }
                line.push('\n');
                line
            }
        };
        self.here(target, what, &local, seconds, capture, writer).await
    }

    /// Where a step sees local target `name`: in a sandbox, at
    /// `LOCAL_TARGETS/{name}` (outside the job's own folders, whatever the
    /// host path); without one, where it is.
    fn local_seen(&self, name: &str) -> PathBuf {
        if self.with.sandbox.is_on() {
            Path::new(LOCAL_TARGETS).join(name)
        } else {
            self.local[name].clone()
        }
    }

    /// The ssh command for `user@host:port`, through the connection
    /// `control` when there is one.
    fn ssh_argv(&self, user: &str, host: &str, port: u16, control: Option<String>) -> Vec<String> {
        let mut argv: Vec<String> = ["ssh", "-F", "/dev/null", "-i"].map(String::from).into();
        argv.push(self.key.display().to_string());
        for option in [
            "IdentitiesOnly=yes".to_string(),
            "BatchMode=yes".into(),
            "StrictHostKeyChecking=yes".into(),
            format!("UserKnownHostsFile={}", self.known_hosts.display()),
            "GlobalKnownHostsFile=/dev/null".into(),
            "ConnectTimeout=10".into(),
            "ServerAliveInterval=10".into(),
            "ServerAliveCountMax=3".into(),
            "LogLevel=ERROR".into(),
        ] {
            argv.extend(["-o".to_string(), option]);
        }
        if let Some(path) = control {
            argv.extend([
                "-o".into(),
                "ControlMaster=no".into(),
                "-o".into(),
                format!("ControlPath={path}"),
            ]);
        }
        argv.extend(["-p".to_string(), port.to_string(), format!("{user}@{host}")]);
        argv
    }

    /// One ssh connection per host for the whole deploy, which every
    /// command to that host goes through (a handshake costs far more than
    /// a command): started on first use, in the sandbox, and ended with
    /// the deploy. `None` when it did not come up (commands then connect
    /// on their own, and say why they cannot). Only in a sandbox, where
    /// its socket's path is short.
    async fn master(&self, user: &str, host: &str, port: u16) -> Option<String> {
        if !self.with.sandbox.is_on() {
            return None;
        }
        let key = format!("{user}@{host}:{port}");
        let mut masters = self.masters.lock().await;
        let n = match masters.iter().position(|(k, _)| *k == key) {
            Some(n) => return masters[n].1.as_ref().map(|_| self.control_path(n)),
            None => masters.len(),
        };
        let path = self.control_path(n);
        let mut argv = self.ssh_argv(user, host, port, None);
        let at = argv.len() - 3;
        argv.splice(
            at..at,
            ["-M", "-N", "-o", "ControlPersist=no", "-o"]
                .map(String::from)
                .into_iter()
                .chain([format!("ControlPath={path}")]),
        );
        let work = self.with.work;
        let mut cmd = self.with.sandbox.command(work, &work.seen(&work.workspace), &argv);
        cmd.envs(self.env)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true);
        let socket = self.socket(n);
        let _ = std::fs::remove_file(&socket);
        let child = match cmd.spawn() {
            Ok(mut child) => {
                let deadline = Instant::now() + Duration::from_secs(12);
                loop {
                    if socket.exists() {
                        break Some(child);
                    }
                    if Instant::now() >= deadline || child.try_wait().ok().flatten().is_some() {
                        let _ = child.start_kill();
                        let _ = child.wait().await;
                        break None;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            Err(_) => None,
        };
        let up = child.is_some();
        masters.push((key, child));
        up.then_some(path)
    }

    /// Where connection `n`'s socket is: in the job's own `/tmp` (the
    /// runner folder is not the job's to write).
    fn socket(&self, n: usize) -> PathBuf {
        self.with.work.tmp.join(format!("hearth-ssh-{n}"))
    }

    fn control_path(&self, n: usize) -> String {
        self.with.work.seen(&self.socket(n)).display().to_string()
    }

    /// Runs `script` here, in the job's sandbox (a local target's folder
    /// bound in).
    async fn here(
        &self,
        target: &Target,
        what: &str,
        script: &str,
        seconds: u64,
        capture: bool,
        writer: &mut LogWriter,
    ) -> Result<Option<BTreeMap<String, String>>> {
        writer.line(&format!("Hearth: deploy: [{}] {what}", target.name));
        let number = self.next.fetch_add(1, Ordering::Relaxed);
        let mut work: Work = self.with.work.clone();
        if let Place::Local(name) = &target.place {
            work.binds.push((self.local[name].clone(), self.local_seen(name)));
        }
        let mut step = self.step.clone();
        step.run = Some(script.to_string());
        step.action = None;
        step.working_directory = None;
        step.shell = None;
        let deadline = self.deadline.min(Instant::now() + Duration::from_secs(seconds));
        let (conclusion, _) =
            super::process::run_step(&step, script, number, &work, self.env, deadline, writer, self.with).await?;
        let output = work.runner.join(format!("output-{number}"));
        let reported = if capture {
            super::helper::paths::read_regular(&output, 1 << 20).unwrap_or_default()
        } else {
            Vec::new()
        };
        for (_, name) in super::process::STEP_FILES {
            let _ = std::fs::remove_file(work.runner.join(format!("{name}-{number}")));
        }
        if conclusion == Conclusion::Cancelled
            || (conclusion == Conclusion::TimedOut && Instant::now() >= self.deadline)
        {
            self.halted.store(true, Ordering::Relaxed);
        }
        if conclusion != Conclusion::Success {
            return Ok(None);
        }
        Ok(Some(super::executor::key_values(&reported).into_iter().collect()))
    }
}

/// What a command's standard input and output carry.
#[derive(Debug, Clone, Copy)]
enum Io {
    None,
    /// The archive goes in; `key=value` lines come out.
    Upload,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_local_names_or_ssh_folders() {
        let t = targets(
            "local:web1 http://127.0.0.1:8081/health\n\
             # a comment\n\
             ssh://deploy@10.0.0.5:2222/srv/app\n\
             ssh://deploy@web3/srv/app/\n",
        )
        .unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(t[0].place, Place::Local("web1".into()));
        assert_eq!(t[0].health.as_deref(), Some("http://127.0.0.1:8081/health"));
        assert_eq!(
            t[1].place,
            Place::Ssh {
                user: "deploy".into(),
                host: "10.0.0.5".into(),
                port: 2222,
                dir: "/srv/app".into()
            }
        );
        assert!(matches!(&t[2].place, Place::Ssh { port: 22, dir, .. } if dir == "/srv/app"));
        for bad in [
            "local:../etc",
            "local:.hidden",
            "local:a/b",
            "/srv/app",
            "ssh://deploy@host",
            "ssh://host/srv",
            "ssh://deploy@host/../etc",
            "ssh://-oProxyCommand=x@host/srv",
            "ssh://deploy@-oProxyCommand/srv",
            "ssh://deploy@host:99999/srv",
            "ssh://deploy@host/",
            "local:web1 ftp://x",
            "local:web1 http://x/$(id)",
            "local:web1\nlocal:web1",
            "",
        ] {
            assert!(targets(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn appspec_hooks_stay_inside_the_release() {
        let files: BTreeSet<String> = ["appspec.yml", "scripts/start.sh", "scripts/check.sh"]
            .map(String::from)
            .into();
        let spec = AppSpec::parse(
            "version: 0.0\nos: linux\nhooks:\n  ApplicationStart:\n    - location: scripts/start.sh\n      timeout: 30\n      runas: root\n  ValidateService:\n    - location: ./scripts/check.sh\n",
            Some(&files),
        )
        .unwrap();
        assert_eq!(spec.scripts(Hook::ApplicationStart)[0].seconds, 30);
        assert_eq!(spec.scripts(Hook::ValidateService)[0].location, "scripts/check.sh");
        assert!(spec.scripts(Hook::BeforeInstall).is_empty());
        for (text, says) in [
            (
                "hooks:\n  ApplicationStart:\n    - location: ../../etc/x.sh\n",
                "stays inside",
            ),
            (
                "hooks:\n  ApplicationStart:\n    - location: /etc/x.sh\n",
                "stays inside",
            ),
            (
                "hooks:\n  ApplicationStart:\n    - location: scripts/missing.sh\n",
                "not in the artifact",
            ),
            (
                "hooks:\n  Install:\n    - location: scripts/start.sh\n",
                "not a lifecycle event",
            ),
            ("os: windows\n", "linux"),
            ("hooks: [\n", "appspec.yml"),
        ] {
            let err = AppSpec::parse(text, Some(&files)).unwrap_err();
            assert!(err.contains(says), "{text:?}: {err}");
        }
    }

    #[test]
    fn counts_and_percentages() {
        assert_eq!(count_of("2", 3), Ok(2));
        assert_eq!(count_of("50%", 3), Ok(1));
        assert_eq!(count_of("100%", 3), Ok(3));
        assert!(count_of("150%", 3).is_err());
        assert!(count_of("one", 3).is_err());
        assert_eq!(release_name("releases/12-abc"), Some("12-abc".into()));
        assert_eq!(release_name("../../etc"), None);
        assert_eq!(release_name(""), None);
    }
}
