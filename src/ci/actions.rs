//! The built-in actions of `uses:` steps: `actions/checkout`,
//! `actions/upload-artifact`, `actions/download-artifact`, `actions/cache`
//! and `hearth/test-report`. What they do with the job's files is done by
//! the job's helper (`ci::helper`), inside its sandbox; here is what they
//! mean and what they record.

use super::executor::{LogWriter, Record};
use super::helper::{Helper, Input, Pack};
use super::workflow;
use crate::error::Result;
use crate::state::Conclusion;

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
    deadline: std::time::Instant,
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
    if let Err(why) = super::helper::paths::relative(&dest_rel, &with.work.seen(&with.work.workspace)) {
        return failed(writer, format!("path {why}"));
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
    let bare = data_dir.repo(&repo.owner, &repo.name);
    let helper = with.work.helper(with.sandbox, deadline);
    let scratch = with.work.scratch_dir("checkout")?;
    let dest = dest_rel.clone();
    // Checked out into the server's own folder, then unpacked where the
    // job wants it by the job's helper, as the job.
    let done = crate::error::blocking(
        "checking out",
        move || -> std::result::Result<(String, usize), String> {
            let commit = super::uses::fetch::resolve_here(&bare, &wanted)?;
            let files = crate::git::checkout(&bare, &commit, &scratch).map_err(|e| e.to_string())?;
            let unpacked = helper.unpack(Input::Folder(scratch.clone()), &dest, true);
            let _ = std::fs::remove_dir_all(&scratch);
            unpacked?;
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

/// `actions/checkout` of the run's commit: the workspace (its files there
/// already) becomes a git repository as GitHub's checkout leaves it — the
/// commit on its branch (or detached, for a tag), `fetch-depth` commits of
/// history (default 1; 0 for all, with the tags), `origin` this server,
/// and, unless `persist-credentials: false`, the job token kept for git
/// (so `git push` works as the job's permissions allow). The server's git
/// fetches into a repository of the server's own folder; the job's helper
/// puts it at the workspace's `.git` (whatever the job left there goes),
/// and git checks out there in the job's sandbox, as the job.
pub(super) async fn git_checkout(
    step: &workflow::Step,
    env: &std::collections::BTreeMap<String, String>,
    token: &str,
    writer: &mut LogWriter,
    with: &super::executor::RunWith<'_>,
    deadline: std::time::Instant,
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
    let bare = data_dir.repo(owner, name);
    let helper = with.work.helper(with.sandbox, deadline);
    let ws = with.work.scratch_dir("git")?;
    let (token, at) = (token.to_string(), sha.clone());
    let done = crate::error::blocking(
        "making the workspace a git repository",
        move || -> std::result::Result<String, String> {
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
            let unpacked = helper.unpack(Input::Folder(ws.join(".git")), ".git", true);
            let _ = std::fs::remove_dir_all(&ws);
            unpacked?;
            let checkout: Vec<String> = match branch {
                Some(b) => vec!["-B".into(), b.into(), format!("refs/remotes/origin/{b}")],
                None => vec!["--detach".into(), sha.clone()],
            };
            let workspace = helper.workspace().display().to_string();
            let argv: Vec<String> = ["git", "-C", &workspace, "checkout", "-q", "--force"]
                .into_iter()
                .map(String::from)
                .chain(checkout)
                .collect();
            helper
                .program(&argv, &[("GIT_TERMINAL_PROMPT", "0")])
                .map_err(|why| format!("git checkout: {why}"))?;
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
    helper: &Helper,
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
            if !crate::report::KINDS.contains(&kind.as_str()) {
                return failed(writer, format!("kind {kind:?}: unit, functional or security"));
            }
            let name = with("name").unwrap_or(&step.name).chars().take(100).collect::<String>();
            let patterns = with("path").unwrap_or_default().to_string();
            let helper = helper.clone();
            // Each file read by the job's helper, up to a cap.
            let (summary, notes) = crate::error::blocking("reading test reports", move || {
                let mut summary = crate::report::Summary::default();
                let mut notes = Vec::new();
                let each = Pack {
                    max_file_bytes: crate::report::MAX_FILE_BYTES,
                    skip_large: true,
                    ..Pack::default()
                };
                let read = helper.each_file(&patterns, &each, |path, file| {
                    let mut bytes = Vec::new();
                    std::io::Read::read_to_end(file, &mut bytes).map_err(|e| format!("{path}: {e}"))?;
                    if let Err(why) = summary.add(&bytes) {
                        notes.push(format!("{path}: {why}; left out"));
                    }
                    Ok(())
                });
                match read {
                    Err(why) => notes.push(why),
                    Ok((0, said)) if said.is_empty() => notes.push(format!("no files match {patterns:?}")),
                    Ok((_, said)) => notes.extend(said),
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
            let helper = helper.clone();
            let packed = crate::error::blocking("packing an artifact", move || {
                // As GitHub's upload-artifact: `path: dist/` keeps dist's files at the top.
                let pack = Pack {
                    artifact_root: true,
                    ..Pack::default()
                };
                let packed = helper.pack(&store, &paths, &pack)?;
                Ok((packed.files > 0).then_some((packed.sha, packed.size, packed.files)))
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
            if let Err(why) = super::helper::paths::relative(dest, &helper.workspace()) {
                return failed(writer, why);
            }
            let dest = dest.trim_end_matches('/').to_string();
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
            let wanted: Vec<(String, String, String)> = match (with("name"), with("pattern")) {
                (Some(name), _) => match all.into_iter().find(|(n, _)| n == name) {
                    Some((n, sha)) => vec![(n, sha, dest.clone())],
                    None => return failed(writer, format!("this run has no artifact named {name:?} (yet)")),
                },
                // Every artifact (or those `pattern` matches), each in a
                // folder of its name unless `merge-multiple`.
                (None, pattern) => all
                    .into_iter()
                    .filter(|(n, _)| pattern.is_none_or(|p| crate::glob::matches(p, n)))
                    .map(|(n, sha)| {
                        let d = if merge { dest.clone() } else { format!("{dest}/{n}") };
                        (n, sha, d)
                    })
                    .collect(),
            };
            for (name, sha, to) in wanted {
                let digest = sha.clone();
                let (archive, helper) = (store.join(&sha), helper.clone());
                let n = crate::error::blocking("unpacking an artifact", move || {
                    helper.unpack(Input::File(archive), &to, false)
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
            save_cache(&key, with("path").unwrap_or_default(), helper, writer, record).await?;
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
            // What it restores goes where it was saved from: each of its paths must be the workspace's.
            let paths = with("path").unwrap_or_default();
            let workspace = helper.workspace();
            let outside = paths
                .lines()
                .map(|l| l.trim().trim_start_matches('!'))
                .filter(|l| !l.is_empty())
                .find_map(|l| super::helper::paths::relative(l, &workspace).err());
            if let Some(why) = outside {
                writer.line(&format!("Warning: cache {key:?}: {why}; nothing is restored"));
                outputs.insert("cache-hit".into(), serde_json::Value::String("false".into()));
                return Ok((Conclusion::Success, outputs));
            }
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
                    let (archive, helper) = (store.join(&sha), helper.clone());
                    let n = crate::error::blocking("restoring a cache", move || {
                        helper.unpack(Input::File(archive), ".", false)
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
    helper: &Helper,
    writer: &mut LogWriter,
    record: &Record<'_>,
) -> Result<()> {
    let (helper, paths, store) = (helper.clone(), paths.to_string(), record.store());
    let packed = crate::error::blocking("packing a cache", move || {
        let packed = helper.pack(&store, &paths, &Pack::default())?;
        Ok::<_, String>((packed.files > 0).then_some((packed.sha, packed.size, packed.files)))
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
