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
                Ok(Some((sha, size, files))) => match record.add_artifact(&name, &sha, size, files).await {
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
            let all = record.artifacts().await?;
            let wanted: Vec<(String, String, PathBuf)> = match with("name") {
                Some(name) => match all.into_iter().find(|(n, _)| n == name) {
                    Some((n, sha)) => vec![(n, sha, dest.clone())],
                    None => return failed(writer, format!("this run has no artifact named {name:?} (yet)")),
                },
                // Every artifact, each in a folder of its name.
                None => all
                    .into_iter()
                    .map(|(n, sha)| {
                        let d = dest.join(&n);
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
        Some(Action::Cache) => {
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
            match found {
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
            if !hit {
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
