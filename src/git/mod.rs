//! Repositories on disk. The git protocol is served by spawning `git`
//! (`protocol`), background maintenance by spawning `git gc` (`housekeeping`);
//! everything else reads and creates repositories with gix. This module knows
//! nothing of HTTP handlers or of the database.

pub mod cache;
pub mod housekeeping;
pub mod merge;
pub mod protocol;
pub mod read;
pub mod sweep;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::error::{Context, Error, Result};

/// Oldest git whose `upload-pack`/`receive-pack` Hearth is tested with.
pub const MIN_GIT_VERSION: (u32, u32) = (2, 31);

/// How to run the `git` executable: which binary, with which environment.
/// Children get a cleared environment with only these variables.
#[derive(Debug, Clone)]
pub struct GitCommand {
    program: PathBuf,
    path_env: OsString,
}

impl GitCommand {
    /// Finds `git` on PATH and checks that it is recent enough.
    pub fn discover() -> Result<GitCommand> {
        let path_env = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
        let git = GitCommand {
            program: "git".into(),
            path_env,
        };
        let out = git.std_command().arg("--version").output().map_err(|e| {
            Error::internal(format!(
                "could not run `git --version` ({e}); hearth needs git {}.{} or newer on PATH",
                MIN_GIT_VERSION.0, MIN_GIT_VERSION.1
            ))
        })?;
        let text = String::from_utf8_lossy(&out.stdout);
        let version = parse_version(&text)
            .ok_or_else(|| Error::internal(format!("could not read the git version from {:?}", text.trim())))?;
        if version < MIN_GIT_VERSION {
            return Err(Error::internal(format!(
                "{} is too old; hearth needs git {}.{} or newer on PATH",
                text.trim(),
                MIN_GIT_VERSION.0,
                MIN_GIT_VERSION.1
            )));
        }
        tracing::info!("using {}", text.trim());
        Ok(git)
    }

    /// A `git` command with a cleared environment: only PATH, and no system
    /// or user configuration.
    pub fn std_command(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(&self.program);
        cmd.env_clear()
            .env("PATH", &self.path_env)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_TERMINAL_PROMPT", "0")
            .stdin(std::process::Stdio::null());
        cmd
    }

    pub fn tokio_command(&self) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::from(self.std_command());
        cmd.kill_on_drop(true);
        cmd
    }
}

fn parse_version(text: &str) -> Option<(u32, u32)> {
    let v = text.trim().strip_prefix("git version ")?;
    let mut parts = v.split(|c: char| !c.is_ascii_digit());
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// Creates an empty bare repository at `path` with HEAD on `branch`.
/// A leftover directory from an earlier failed creation is replaced.
pub fn init_bare(path: &Path, branch: &str) -> Result<()> {
    if path.exists() {
        tracing::warn!("replacing leftover directory {}", path.display());
        std::fs::remove_dir_all(path)?;
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    gix::init_bare(path).with_context(|| format!("could not create {}", path.display()))?;
    std::fs::write(path.join("HEAD"), format!("ref: refs/heads/{branch}\n"))?;
    Ok(())
}

/// The refs of a repository (full name → object id in hex), without HEAD
/// and other symbolic refs.
pub fn list_refs(path: &Path) -> Result<BTreeMap<String, String>> {
    let repo = open(path)?;
    let platform = repo.references().context("reading refs")?;
    let mut refs = BTreeMap::new();
    for r in platform.all().context("reading refs")? {
        let r = r.with_context(|| format!("reading a ref in {}", path.display()))?;
        if let Some(id) = r.target().try_id() {
            refs.insert(r.name().as_bstr().to_string(), id.to_string());
        }
    }
    Ok(refs)
}

/// A full object id in hex, as the database and the refs hold them.
pub fn object_id(hex: &str) -> Result<gix::ObjectId> {
    gix::ObjectId::from_hex(hex.as_bytes()).map_err(|e| Error::failed(format!("object id {hex:?}"), e))
}

pub fn open(path: &Path) -> Result<gix::Repository> {
    gix::open_opts(path, gix::open::Options::isolated())
        .with_context(|| format!("could not open repository {}", path.display()))
}

/// Writes the files of `commit` into the empty directory `dest`, as a
/// checkout would (executable bits and symbolic links kept; submodules left
/// empty). Paths are checked: nothing is written outside `dest`.
pub fn checkout(repo_path: &Path, commit: &str, dest: &Path) -> Result<usize> {
    use std::os::unix::fs::PermissionsExt;
    let fail = |what: &str, e| Error::failed(format!("checkout of {commit}: {what}"), e);
    let mut repo = open(repo_path)?;
    // Blobs are often deltas of each other, in chains: a cache of the pack's
    // decoded entries saves inflating each chain's bases again for every
    // blob (gix sets none without its max-performance feature: inflating
    // took 0.7 s of checking out 2,000 files, and is gone with it).
    repo.object_cache_size_if_unset(64 << 20);
    repo.objects
        .set_pack_cache(|| Box::new(gix::odb::pack::cache::lru::MemoryCappedHashmap::new(64 << 20)));
    let id = gix::ObjectId::from_hex(commit.as_bytes()).map_err(|e| fail("commit id", e))?;
    let tree = repo
        .find_commit(id)
        .map_err(|e| fail("commit", e))?
        .tree()
        .map_err(|e| fail("tree", e))?;
    let mut recorder = gix::traverse::tree::Recorder::default();
    tree.traverse()
        .breadthfirst(&mut recorder)
        .map_err(|e| fail("walking the tree", e))?;
    std::fs::create_dir_all(dest)?;
    let mut files = 0;
    for entry in recorder.records {
        let rel = entry.filepath.to_string();
        if rel
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == ".." || c == ".git")
        {
            return Err(Error::invalid(format!(
                "the tree holds a path that cannot be checked out: {rel:?}"
            )));
        }
        let path = dest.join(&rel);
        let mode = entry.mode;
        if mode.is_tree() || mode.is_commit() {
            std::fs::create_dir_all(&path)?;
            continue;
        }
        let data = repo.find_blob(entry.oid).map_err(|e| fail("blob", e))?.take_data();
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        if mode.is_link() {
            let target = String::from_utf8_lossy(&data).into_owned();
            std::os::unix::fs::symlink(target, &path)?;
        } else {
            std::fs::write(&path, &data)?;
            if mode.value() == 0o100755 {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
            }
        }
        files += 1;
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    #[test]
    fn versions() {
        assert_eq!(super::parse_version("git version 2.47.3\n"), Some((2, 47)));
        assert_eq!(
            super::parse_version("git version 2.39.5 (Apple Git-154)"),
            Some((2, 39))
        );
        assert_eq!(super::parse_version("nonsense"), None);
    }
}
