//! The built-in actions of `uses:` steps: `actions/checkout` (a no-op: the
//! workspace is a checkout already), `actions/upload-artifact`,
//! `actions/download-artifact` and `actions/cache`; and `hashFiles()`.

use std::path::{Path, PathBuf};

use super::executor::{LogWriter, Record};
use super::state::Conclusion;
use super::workflow;
use crate::error::Result;

/// `hashFiles()`: the SHA-256 of the SHA-256 of each file of the workspace
/// matching the patterns, in path order; "" when none match.
pub(super) fn hash_files(workspace: &Path, patterns: &[String]) -> String {
    use sha2::{Digest, Sha256};
    let Ok(files) = super::artifacts::matching_files(workspace, &patterns.join("\n")) else {
        return String::new();
    };
    if files.is_empty() {
        return String::new();
    }
    let mut all = Sha256::new();
    for f in files {
        // Streamed: a large file is not read into memory whole.
        let mut one = Sha256::new();
        if let Ok(mut file) = std::fs::File::open(workspace.join(f))
            && std::io::copy(&mut file, &mut one).is_ok()
        {
            all.update(one.finalize());
        }
    }
    all.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// `actions/checkout` asked for something other than the run's commit at
/// the workspace's root: another repository of this server, a `ref`, or a
/// `path`. (The workspace is a checkout of the run's commit already.)
pub(super) fn checkout_wanted(step: &workflow::Step, own: &str) -> bool {
    let given = |k: &str| step.with.get(k).is_some_and(|v| !v.trim().is_empty());
    given("ref")
        || given("path")
        || step
            .with
            .get("repository")
            .is_some_and(|r| !r.trim().eq_ignore_ascii_case(own) && !r.trim().is_empty())
}

/// `actions/checkout` with `repository` (of this server: public, or of
/// the same owner), `ref` (a branch, tag or commit; by default the run's
/// commit, or the other repository's default branch) and `path` (in the
/// workspace; what was there goes, as GitHub's `clean` does).
pub(super) async fn checkout(
    step: &workflow::Step,
    env: &std::collections::BTreeMap<String, String>,
    writer: &mut LogWriter,
    with: &super::executor::RunWith<'_>,
) -> Result<Conclusion> {
    let own = env.get("GITHUB_REPOSITORY").map(String::as_str).unwrap_or_default();
    let failed = |writer: &mut LogWriter, why: String| {
        writer.line(&format!("Hearth: {why}"));
        Ok(Conclusion::Failure)
    };
    let Record::Server { db, data_dir, .. } = &with.record else {
        return failed(writer, "hearth ci run checks out only the working tree".into());
    };
    let value = |k: &str| step.with.get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let repository = value("repository").unwrap_or_else(|| own.to_string());
    let Some((owner, name)) = repository.split_once('/') else {
        return failed(writer, format!("repository {repository:?} is not owner/name"));
    };
    let Some(repo) = super::uses::fetch::visible_repo(db, owner, name, with.owner)
        .await
        .unwrap_or(None)
    else {
        return failed(
            writer,
            format!("{repository} is not a repository of this server that this job may read"),
        );
    };
    let dest_rel = value("path").unwrap_or_else(|| ".".into());
    if Path::new(&dest_rel)
        .components()
        .any(|c| !matches!(c, std::path::Component::Normal(_) | std::path::Component::CurDir))
    {
        return failed(writer, format!("path {dest_rel:?} leaves the workspace"));
    }
    let other = !repository.eq_ignore_ascii_case(own);
    let wanted = match (value("ref"), other) {
        (Some(r), _) => r,
        (None, true) => repo.default_branch.clone(),
        (None, false) => env.get("GITHUB_SHA").cloned().unwrap_or_default(),
    };
    let wanted = wanted
        .strip_prefix("refs/heads/")
        .or_else(|| wanted.strip_prefix("refs/tags/"))
        .unwrap_or(&wanted)
        .to_string();
    let (bare, dest, owner_ids) = (
        data_dir.repo(&repo.owner, &repo.name),
        with.work.workspace.join(&dest_rel),
        with.sandbox.owner(),
    );
    // What the checkout makes, from the first folder below the workspace, goes to the job's user.
    let top = match Path::new(&dest_rel)
        .components()
        .find(|c| matches!(c, std::path::Component::Normal(_)))
    {
        Some(first) => with.work.workspace.join(first),
        None => with.work.workspace.clone(),
    };
    let done = crate::error::blocking(
        "checking out",
        move || -> std::result::Result<(String, usize), String> {
            let commit = super::uses::fetch::resolve_here(&bare, &wanted)?;
            if dest.exists() {
                for entry in std::fs::read_dir(&dest).map_err(|e| e.to_string())?.flatten() {
                    let p = entry.path();
                    let gone = if p.is_dir() && !p.is_symlink() {
                        std::fs::remove_dir_all(&p)
                    } else {
                        std::fs::remove_file(&p)
                    };
                    gone.map_err(|e| format!("clearing {}: {e}", p.display()))?;
                }
            }
            let files = crate::git::checkout(&bare, &commit, &dest).map_err(|e| e.to_string())?;
            if let Some(ids) = owner_ids {
                super::executor::give_to(&top, ids).map_err(|e| e.to_string())?;
            }
            Ok((commit, files))
        },
    )
    .await?;
    match done {
        Ok((commit, files)) => {
            writer.line(&format!(
                "Hearth: checked out {repository} at {commit} into {dest_rel} ({files} files)"
            ));
            Ok(Conclusion::Success)
        }
        Err(why) => failed(writer, format!("checkout of {repository}: {why}")),
    }
}

/// Whether `path` has no symbolic link on the way down from `root`: the
/// job owns the folders below its root and may have put one there to make
/// the server (which writes here as itself) write elsewhere. No process of
/// the job runs while a built-in action does, so what this sees stays so.
fn no_links(root: &Path, path: &Path) -> bool {
    let Ok(rest) = path.strip_prefix(root) else {
        return false;
    };
    let mut at = root.to_path_buf();
    for c in rest.components() {
        at.push(c);
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_symlink() => return false,
            Ok(_) => {}
            Err(_) => return true,
        }
    }
    true
}

/// `actions/checkout` of the run's commit: the workspace (its files there
/// already) becomes a git repository as GitHub's checkout leaves it — the
/// commit on its branch (or detached, for a tag), `fetch-depth` commits of
/// history (default 1; 0 for all, with the tags), `origin` this server,
/// and, unless `persist-credentials: false`, the job token kept for git
/// (so `git push` works as the job's permissions allow). Git runs here,
/// as the server, on the server's copy; the job's user gets what it made.
pub(super) async fn git_checkout(
    step: &workflow::Step,
    env: &std::collections::BTreeMap<String, String>,
    token: &str,
    writer: &mut LogWriter,
    with: &super::executor::RunWith<'_>,
) -> Result<Conclusion> {
    let Record::Server { data_dir, .. } = &with.record else {
        return Ok(Conclusion::Success);
    };
    let Some(git) = with.actions.git.clone() else {
        writer.line("Hearth: git is not installed here; the workspace holds the files only");
        return Ok(Conclusion::Success);
    };
    let get = |k: &str| env.get(k).cloned().unwrap_or_default();
    let (repository, sha, full_ref, server) = (
        get("GITHUB_REPOSITORY"),
        get("GITHUB_SHA"),
        get("GITHUB_REF"),
        get("GITHUB_SERVER_URL"),
    );
    let Some((owner, name)) = repository.split_once('/') else {
        return Ok(Conclusion::Success);
    };
    let value = |k: &str| step.with.get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let depth: u32 = match value("fetch-depth") {
        None => 1,
        Some(d) => match d.parse() {
            Ok(n) => n,
            Err(_) => {
                writer.line(&format!("Hearth: fetch-depth {d:?} is not a number"));
                return Ok(Conclusion::Failure);
            }
        },
    };
    let tags = depth == 0 || value("fetch-tags").as_deref() == Some("true");
    let persist = value("persist-credentials").as_deref() != Some("false");
    let (bare, ws, owner_ids) = (
        data_dir.repo(owner, name),
        with.work.workspace.clone(),
        with.sandbox.owner(),
    );
    let root = with.work.root.clone();
    let (token, at) = (token.to_string(), sha.clone());
    let done = crate::error::blocking(
        "making the workspace a git repository",
        move || -> std::result::Result<String, String> {
            if !no_links(&root, &ws) {
                return Err("the workspace is not a folder any more (a step replaced it with a link)".into());
            }
            // Whatever the job put at .git (hooks, a config naming programs to
            // run) goes: git runs here as the server, with a repository of its own making.
            let dot_git = ws.join(".git");
            if let Ok(m) = std::fs::symlink_metadata(&dot_git) {
                let gone = match m.is_dir() {
                    true => std::fs::remove_dir_all(&dot_git),
                    false => std::fs::remove_file(&dot_git),
                };
                gone.map_err(|e| format!("removing what a step left at .git: {e}"))?;
            }
            let safe = format!("safe.directory={}", ws.display());
            let run = |args: &[&str]| -> std::result::Result<(), String> {
                let out = git
                    .std_command()
                    .args(["-c", &safe, "-C"])
                    .arg(&ws)
                    .args(args)
                    .output()
                    .map_err(|e| e.to_string())?;
                match out.status.success() {
                    true => Ok(()),
                    false => Err(format!(
                        "git {}: {}",
                        args.first().unwrap_or(&""),
                        String::from_utf8_lossy(&out.stderr).trim()
                    )),
                }
            };
            run(&["init", "-q"])?;
            let source = format!("file://{}", bare.display());
            let mut fetch = vec!["fetch", "-q", "--no-tags"];
            let depth_arg = format!("--depth={depth}");
            if depth > 0 {
                fetch.push(&depth_arg);
            }
            if tags {
                fetch[2] = "--tags";
            }
            let upload = "--upload-pack=git -c uploadpack.allowAnySHA1InWant=true upload-pack";
            fetch.push(upload);
            fetch.push(&source);
            let branch = full_ref.strip_prefix("refs/heads/");
            let spec = match branch {
                Some(b) => format!("+{sha}:refs/remotes/origin/{b}"),
                None => format!("+{sha}:refs/hearth/checkout"),
            };
            fetch.push(&spec);
            run(&fetch)?;
            match branch {
                Some(b) => run(&[
                    "checkout",
                    "-q",
                    "--force",
                    "-B",
                    b,
                    &format!("refs/remotes/origin/{b}"),
                ])?,
                None => run(&["checkout", "-q", "--force", "--detach", &sha])?,
            }
            if !server.is_empty() {
                run(&["remote", "add", "origin", &format!("{server}/{repository}.git")])?;
                if persist && !token.is_empty() {
                    use base64::Engine;
                    let basic = base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{token}"));
                    run(&[
                        "config",
                        "--local",
                        &format!("http.{server}/.extraheader"),
                        &format!("AUTHORIZATION: basic {basic}"),
                    ])?;
                }
            }
            if let Some(ids) = owner_ids {
                super::executor::give_to(&ws, ids).map_err(|e| e.to_string())?;
            }
            Ok(match depth {
                0 => "all of its history".into(),
                1 => "the commit".into(),
                n => format!("{n} commits of history"),
            })
        },
    )
    .await?;
    match done {
        Ok(what) => {
            writer.line(&format!("Hearth: the workspace is a git repository at {at} ({what})"));
            Ok(Conclusion::Success)
        }
        Err(why) => {
            writer.line(&format!("Hearth: checkout: {why}"));
            Ok(Conclusion::Failure)
        }
    }
}

/// Runs a built-in action (`uses:`); returns its conclusion and outputs.
pub(super) async fn run_action(
    step: &workflow::Step,
    workspace: &Path,
    owner: Option<(u32, u32)>,
    writer: &mut LogWriter,
    record: &Record<'_>,
    cache_saves: &mut Vec<(String, String)>,
) -> Result<(Conclusion, serde_json::Map<String, serde_json::Value>)> {
    use workflow::Action;
    let with = |k: &str| step.with.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let store = record.store();
    let mut outputs = serde_json::Map::new();
    let failed = |writer: &mut LogWriter, why: String| {
        writer.line(&format!("Hearth: {why}"));
        Ok((Conclusion::Failure, serde_json::Map::new()))
    };
    match step.action {
        // Run by the executor itself: it needs the sandbox (see `rolling`).
        Some(Action::Deploy | Action::Release | Action::PublishDocs) => {
            return failed(writer, format!("{} runs only as a step of a job", step.name));
        }
        None | Some(Action::Checkout) => {
            writer.line("The workspace is a checkout of the commit already.");
        }
        Some(Action::TestReport) => {
            let kind = with("kind").unwrap_or("unit").to_string();
            if !super::test_report::KINDS.contains(&kind.as_str()) {
                return failed(writer, format!("kind {kind:?}: unit, functional or security"));
            }
            let name = with("name").unwrap_or(&step.name).chars().take(100).collect::<String>();
            let patterns = with("path").unwrap_or_default().to_string();
            let ws = workspace.to_path_buf();
            // Read off the runtime; each file as the job's files are (no
            // links out, no devices), up to a cap.
            let (summary, notes) = crate::error::blocking("reading test reports", move || {
                let mut summary = super::test_report::Summary::default();
                let mut notes = Vec::new();
                match super::artifacts::matching_files(&ws, &patterns) {
                    Err(why) => notes.push(why),
                    Ok(files) if files.is_empty() => notes.push(format!("no files match {patterns:?}")),
                    Ok(files) => {
                        for file in files {
                            let read =
                                super::executor::read_job_file(&ws.join(&file), super::test_report::MAX_FILE_BYTES)
                                    .and_then(|bytes| summary.add(&bytes));
                            if let Err(why) = read {
                                notes.push(format!("{}: {why}; left out", file.display()));
                            }
                        }
                    }
                }
                (summary, notes)
            })
            .await?;
            // A report that cannot be read is said, and changes nothing else.
            for note in notes {
                writer.line(&format!("Warning: test report: {note}"));
            }
            writer.line(&format!(
                "Hearth: {name}: {} tests, {} failed, {} errors, {} skipped",
                summary.tests, summary.failures, summary.errors, summary.skipped
            ));
            record.test_report(&name, &kind, summary).await?;
        }
        Some(Action::UploadArtifact) => {
            let name = with("name").unwrap_or("artifact").to_string();
            if name.len() > 100 || name.contains(['/', '\\', '\0']) || name.starts_with('.') {
                return failed(
                    writer,
                    format!("{name:?} is not an artifact name (no slashes, up to 100 characters)"),
                );
            }
            let paths = with("path").unwrap_or_default().to_string();
            let ws = workspace.to_path_buf();
            let packed = crate::error::blocking("packing an artifact", move || {
                let files = super::artifacts::matching_files(&ws, &paths)?;
                if files.is_empty() {
                    return Ok(None);
                }
                // As GitHub's upload-artifact: `path: dist/` keeps dist's files at the top.
                let root = super::artifacts::artifact_root(&paths, &files);
                let (sha, size) =
                    super::artifacts::pack_under(&store, &ws, &files, &root).map_err(|e| e.to_string())?;
                Ok(Some((sha, size, files.len())))
            })
            .await?;
            match packed {
                Err(why) => return failed(writer, why),
                Ok(None) => {
                    let message = format!("no files match the path of artifact {name:?}");
                    match with("if-no-files-found").unwrap_or("warn") {
                        "error" => return failed(writer, message),
                        "ignore" => {}
                        _ => writer.line(&format!("Warning: {message}; nothing was uploaded.")),
                    }
                }
                Ok(Some((sha, size, files))) => match record
                    .add_artifact(&name, &sha, size, files, with("overwrite") == Some("true"))
                    .await
                {
                    Ok(true) => writer.line(&format!(
                        "Hearth: artifact {name:?} uploaded: {files} files, {size} bytes"
                    )),
                    Ok(false) => return failed(writer, format!("this run has an artifact named {name:?} already")),
                    Err(e) => return Err(e),
                },
            }
        }
        Some(Action::DownloadArtifact) => {
            let dest = with("path").unwrap_or(".");
            if Path::new(dest)
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_) | std::path::Component::CurDir))
            {
                return failed(writer, format!("{dest}: the path leaves the workspace"));
            }
            let dest = PathBuf::from(dest);
            if let Some(k) = ["run-id", "repository", "github-token"]
                .iter()
                .find(|k| with(k).is_some())
            {
                return failed(
                    writer,
                    format!("download-artifact: `{k}` (artifacts of another run) is not supported yet by this Hearth"),
                );
            }
            let all = record.artifacts().await?;
            let merge = with("merge-multiple") == Some("true");
            let wanted: Vec<(String, String, PathBuf)> = match (with("name"), with("pattern")) {
                (Some(name), _) => match all.into_iter().find(|(n, _)| n == name) {
                    Some((n, sha)) => vec![(n, sha, dest.clone())],
                    None => return failed(writer, format!("this run has no artifact named {name:?} (yet)")),
                },
                // Every artifact (or those `pattern` matches), each in a
                // folder of its name unless `merge-multiple`.
                (None, pattern) => all
                    .into_iter()
                    .filter(|(n, _)| pattern.is_none_or(|p| super::workflow::glob(p, n)))
                    .map(|(n, sha)| {
                        let d = if merge { dest.clone() } else { dest.join(&n) };
                        (n, sha, d)
                    })
                    .collect(),
            };
            for (name, sha, to) in wanted {
                let digest = sha.clone();
                let (store, ws) = (store.clone(), workspace.to_path_buf());
                let n = crate::error::blocking("unpacking an artifact", move || {
                    super::artifacts::unpack(&store, &sha, &ws, &to, owner)
                })
                .await?;
                match n {
                    Ok(n) => {
                        writer.line(&format!(
                            "Hearth: artifact {name:?} downloaded: {n} files (sha256 {digest})"
                        ));
                        record.used_artifact(&name, &digest).await?;
                    }
                    Err(e) => return failed(writer, format!("artifact {name:?}: {e}")),
                }
            }
        }
        Some(Action::CacheSave) => {
            let key = with("key").unwrap_or_default().to_string();
            if key.is_empty() || key.len() > 512 {
                return failed(writer, "a cache key has 1 to 512 characters".into());
            }
            save_cache(&key, with("path").unwrap_or_default(), workspace, writer, record).await?;
        }
        Some(action @ (Action::Cache | Action::CacheRestore)) => {
            let key = with("key").unwrap_or_default().to_string();
            if key.is_empty() || key.len() > 512 {
                return failed(writer, "a cache key has 1 to 512 characters".into());
            }
            let prefixes: Vec<String> = step
                .with
                .get("restore-keys")
                .map(|r| {
                    r.lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default();
            let found = record.cache_lookup(&key, prefixes).await?;
            let hit = found.as_ref().is_some_and(|(k, _)| *k == key);
            if found.is_none() && with("fail-on-cache-miss") == Some("true") {
                return failed(writer, format!("no cache for {key:?}, and fail-on-cache-miss is true"));
            }
            outputs.insert("cache-primary-key".into(), serde_json::Value::String(key.clone()));
            outputs.insert(
                "cache-matched-key".into(),
                serde_json::Value::String(found.as_ref().map(|(k, _)| k.clone()).unwrap_or_default()),
            );
            match found {
                Some((found_key, _)) if with("lookup-only") == Some("true") => {
                    writer.line(&format!(
                        "Hearth: cache {found_key:?} found (lookup-only: not restored)"
                    ));
                }
                Some((found_key, sha)) => {
                    let ws = workspace.to_path_buf();
                    let n = crate::error::blocking("restoring a cache", move || {
                        super::artifacts::unpack(&store, &sha, &ws, Path::new("."), owner)
                    })
                    .await?;
                    match n {
                        Ok(n) => writer.line(&format!("Hearth: cache {found_key:?} restored: {n} files")),
                        Err(e) => writer.line(&format!("Warning: cache {found_key:?} could not be restored: {e}")),
                    }
                }
                None => writer.line(&format!("Hearth: no cache for {key:?}")),
            }
            if !hit && action == Action::Cache {
                cache_saves.push((key, with("path").unwrap_or_default().to_string()));
            }
            outputs.insert("cache-hit".into(), serde_json::Value::String(hit.to_string()));
        }
    }
    Ok((Conclusion::Success, outputs))
}

/// After a job succeeded: saves a cache whose key missed.
pub(super) async fn save_cache(
    key: &str,
    paths: &str,
    workspace: &Path,
    writer: &mut LogWriter,
    record: &Record<'_>,
) -> Result<()> {
    let (ws, paths, store) = (workspace.to_path_buf(), paths.to_string(), record.store());
    let packed = crate::error::blocking("packing a cache", move || {
        let files = super::artifacts::matching_files(&ws, &paths)?;
        if files.is_empty() {
            return Ok(None);
        }
        super::artifacts::pack(&store, &ws, &files)
            .map(|(sha, size)| Some((sha, size, files.len())))
            .map_err(|e| e.to_string())
    })
    .await?;
    match packed {
        Err(why) => writer.line(&format!("Warning: cache {key:?} not saved: {why}")),
        Ok(None) => writer.line(&format!("Warning: cache {key:?} not saved: no files match its path")),
        Ok(Some((sha, size, files))) => {
            if record.cache_save(key, &sha, size).await? {
                writer.line(&format!("Hearth: cache {key:?} saved: {files} files, {size} bytes"));
            } else if matches!(record, Record::Local { .. }) {
                writer.line(&format!(
                    "Hearth: cache {key:?} not saved: hearth ci run keeps no caches"
                ));
            } else {
                writer.line(&format!("Hearth: cache {key:?} was saved by another job first"));
            }
        }
    }
    Ok(())
}
