//! What CI produces, published: `uses: hearth/release` (also under the
//! name most workflows use, `softprops/action-gh-release`) makes the
//! release of the tag a run was started by, with the job's files as its
//! assets; `uses: hearth/publish-docs` makes a folder of the workspace the
//! repository's documentation at `/{owner}/{repo}/docs/`.

use std::collections::BTreeMap;

use super::executor::{LogWriter, Record, RunWith};
use super::workflow;
use crate::db::releases::{self, Fields};
use crate::error::{Error, Result};
use crate::state::Conclusion;

/// The largest release asset.
pub const MAX_ASSET_BYTES: u64 = 2 << 30;
/// The most files published documentation may have, and their total size.
pub const MAX_DOC_FILES: usize = 20_000;
pub const MAX_DOC_BYTES: u64 = 1 << 30;
/// The longest release notes.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// The content type an asset is served with, by its name.
pub fn content_type(name: &str) -> &'static str {
    let lower = name.to_ascii_lowercase();
    let ends = |s: &str| lower.ends_with(s);
    match () {
        _ if ends(".tar.gz") || ends(".tgz") || ends(".gz") => "application/gzip",
        _ if ends(".zip") => "application/zip",
        _ if ends(".tar") => "application/x-tar",
        _ if ends(".xz") => "application/x-xz",
        _ if ends(".zst") => "application/zstd",
        _ if ends(".deb") => "application/vnd.debian.binary-package",
        _ if ends(".rpm") => "application/x-rpm",
        _ if ends(".json") => "application/json",
        _ if ends(".txt") || ends(".sha256") || ends(".asc") => "text/plain",
        _ => "application/octet-stream",
    }
}

fn failed(writer: &mut LogWriter, why: impl std::fmt::Display) -> Result<Conclusion> {
    writer.line(&format!("Hearth: {why}"));
    Ok(Conclusion::Failure)
}

/// `hearth/release`: `files` (globs), `name`, `body` or `body_path`,
/// `draft`, `prerelease`; `tag_name` must be the run's tag when given.
pub(super) async fn release(
    step: &workflow::Step,
    env: &BTreeMap<String, String>,
    writer: &mut LogWriter,
    with: &RunWith<'_>,
    deadline: std::time::Instant,
) -> Result<Conclusion> {
    let Record::Server { db, run, repo, .. } = &with.record else {
        return failed(writer, "a release is made on the server; hearth ci run makes none");
    };
    let (run, repo) = (*run, *repo);
    let input = |k: &str| step.with.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let full_ref = env.get("GITHUB_REF").cloned().unwrap_or_default();
    let Some(tag) = full_ref.strip_prefix("refs/tags/").map(String::from) else {
        return failed(
            writer,
            format!(
                "a release is made from a tag: this run is of {full_ref} (push a tag, e.g. git push origin v1.0.0)"
            ),
        );
    };
    if let Some(named) = input("tag_name")
        && named.trim_start_matches("refs/tags/") != tag
    {
        return failed(writer, format!("tag_name {named:?}: this run is of tag {tag}"));
    }
    let yes = |k: &str| input(k).is_some_and(|v| v == "true");
    let mut body = input("body").unwrap_or_default().to_string();
    let helper = with.work.helper(with.sandbox, deadline);
    if let Some(path) = input("body_path") {
        let (helper, wanted) = (helper.clone(), path.to_string());
        let read = crate::error::blocking("reading release notes", move || {
            helper.read(&[&wanted], MAX_BODY_BYTES as u64)
        })
        .await?;
        match read {
            Ok(Some(bytes)) => body = String::from_utf8_lossy(&bytes).into_owned(),
            Ok(None) => return failed(writer, format!("body_path: {path}: there is no such file")),
            Err(why) => return failed(writer, format!("body_path: {why}")),
        }
    }
    if body.len() > MAX_BODY_BYTES {
        return failed(
            writer,
            format!("the release notes are longer than {} KiB", MAX_BODY_BYTES >> 10),
        );
    }
    let fields = Fields {
        name: input("name").unwrap_or(&tag).chars().take(200).collect(),
        body,
        draft: yes("draft"),
        prerelease: yes("prerelease"),
    };
    // The files first, into the store: nothing is recorded unless all are there.
    let patterns = input("files").unwrap_or_default().to_string();
    let store = with.record.store();
    let stored = crate::error::blocking("storing release assets", move || -> std::result::Result<_, String> {
        let mut out: Vec<(String, String, u64)> = Vec::new();
        if patterns.is_empty() {
            return Ok((out, patterns));
        }
        // Each file as the job's helper packs it, stored as it comes.
        let each = super::helper::Pack {
            max_files: releases::MAX_ASSETS,
            max_file_bytes: MAX_ASSET_BYTES,
            ..super::helper::Pack::default()
        };
        helper
            .each_file(&patterns, &each, |path, file| {
                let name = path.rsplit('/').next().unwrap_or_default().to_string();
                if out.iter().any(|(n, _, _)| *n == name) {
                    return Err(format!("two files are named {name}: asset names are file names"));
                }
                let mut incoming = super::artifacts::Incoming::new(&store).map_err(|e| format!("the store: {e}"))?;
                incoming.copy_from(file, MAX_ASSET_BYTES, path)?;
                let stored = incoming.keep().map_err(|e| format!("the store: {e}"))?;
                out.push((name, stored.sha, stored.size));
                Ok(())
            })
            .map_err(|why| match why.contains("can be kept") {
                true => format!("{why}; a release has at most {}", releases::MAX_ASSETS),
                false => why,
            })?;
        Ok((out, patterns))
    })
    .await?;
    let (assets, patterns) = match stored {
        Ok(s) => s,
        Err(why) => return failed(writer, why),
    };
    if assets.is_empty() && !patterns.is_empty() {
        if yes("fail_on_unmatched_files") {
            return failed(writer, format!("no files match {patterns:?}"));
        }
        writer.line(&format!(
            "Warning: no files match {patterns:?}; the release has no assets"
        ));
    }
    let sha = env.get("GITHUB_SHA").cloned().unwrap_or_default();
    let n = assets.len();
    let made = db
        .write(move |tx| {
            let author = releases::run_pusher(tx, run)?;
            let release = match releases::by_tag(tx, repo, &tag)? {
                Some(r) => {
                    releases::update(tx, r.id, &fields)?;
                    r
                }
                None => releases::create(tx, repo, &tag, &sha, &fields, author, Some(run))?,
            };
            for (name, sha, size) in &assets {
                releases::put_asset(tx, release.id, name, "", content_type(name), *size, sha, author)?;
            }
            Ok(release)
        })
        .await;
    match made {
        Ok(r) => {
            writer.line(&format!(
                "Hearth: release {} of tag {}{}: {n} assets",
                r.name,
                r.tag_name,
                if r.draft { " (a draft)" } else { "" }
            ));
            Ok(Conclusion::Success)
        }
        Err(e @ (Error::TooLarge(_) | Error::Exists(_) | Error::Invalid(_))) => failed(writer, e),
        Err(e) => Err(e),
    }
}

/// `hearth/publish-docs`: `path` (a folder of the workspace) becomes the
/// repository's documentation; only from the default branch.
pub(super) async fn publish_docs(
    step: &workflow::Step,
    env: &BTreeMap<String, String>,
    writer: &mut LogWriter,
    with: &RunWith<'_>,
    deadline: std::time::Instant,
) -> Result<Conclusion> {
    let Record::Server { db, run, repo, .. } = &with.record else {
        return failed(
            writer,
            "documentation is published on the server; hearth ci run publishes none",
        );
    };
    let (run, repo_id) = (*run, *repo);
    let Some(repo) = db.read(move |c| crate::db::repos::by_id(c, repo_id)).await? else {
        return Err(Error::NotFound);
    };
    let full_ref = env.get("GITHUB_REF").cloned().unwrap_or_default();
    if full_ref != format!("refs/heads/{}", repo.default_branch) {
        return failed(
            writer,
            format!(
                "documentation is published from the default branch ({}); this run is of {full_ref}",
                repo.default_branch
            ),
        );
    }
    let path = step.with.get("path").map(|p| p.trim()).unwrap_or_default();
    let pattern = format!("{}/", path.trim_end_matches('/'));
    let (helper, store) = (with.work.helper(with.sandbox, deadline), with.record.store());
    let packed = crate::error::blocking("packing documentation", move || {
        let pack = super::helper::Pack {
            artifact_root: true,
            max_files: MAX_DOC_FILES,
            max_bytes: MAX_DOC_BYTES,
            max_archive_bytes: MAX_DOC_BYTES,
            ..super::helper::Pack::default()
        };
        let packed = helper.pack(&store, &pattern, &pack)?;
        if packed.files == 0 {
            return Err(format!("{pattern} has no files"));
        }
        Ok((packed.sha, packed.files))
    })
    .await?;
    let (sha, files) = match packed {
        Ok(p) => p,
        Err(why) => return failed(writer, why),
    };
    let commit = env.get("GITHUB_SHA").cloned().unwrap_or_default();
    db.write(move |tx| releases::publish_docs(tx, repo_id, &sha, files as u64, run, &commit))
        .await?;
    writer.line(&format!(
        "Hearth: documentation published: {files} files at {}/docs/",
        repo.url()
    ));
    Ok(Conclusion::Success)
}
