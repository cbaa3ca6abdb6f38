//! The runner's tool cache, laid out as GitHub's (`Python/3.12.4/x64`,
//! `node/20.11.0/x64`, `go/1.22.1/x64`, each with its `x64.complete`
//! marker), so that the real setup-python, setup-node and setup-go find a
//! version there and need no download. Jobs see it read-only at
//! `/run/hostedtoolcache` (GitHub's Ubuntu runners have it in `/opt`, which
//! a sandbox shows read-only from the host), named by `RUNNER_TOOL_CACHE`
//! and `AGENT_TOOLSDIRECTORY`, which is where the actions look; `hearth
//! admin tool-cache add` puts a host's toolchain into it.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Where a sandboxed job sees the tool cache.
pub const SEEN_AT: &str = "/run/hostedtoolcache";

fn plain(part: &str, what: &str) -> Result<()> {
    let ok = !part.is_empty()
        && part.len() <= 64
        && !part.starts_with('.')
        && part.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-+".contains(&b));
    match ok {
        true => Ok(()),
        false => Err(Error::invalid(format!(
            "{what} {part:?}: letters, digits, '.', '_', '-' and '+' (as Python, 3.12.4, x64)"
        ))),
    }
}

/// Copies the folder `source` into `cache` as `tool/version/arch`, with its
/// `arch.complete` marker; an earlier copy of the same is replaced.
/// Returns where it went.
pub fn add(cache: &Path, tool: &str, version: &str, arch: &str, source: &Path) -> Result<PathBuf> {
    plain(tool, "tool")?;
    plain(version, "version")?;
    plain(arch, "architecture")?;
    if !source.is_dir() {
        return Err(Error::invalid(format!("{} is not a folder", source.display())));
    }
    let dir = cache.join(tool).join(version);
    std::fs::create_dir_all(&dir)?;
    let dest = dir.join(arch);
    let partial = dir.join(format!(".partial-{arch}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&partial);
    copy_tree(source, &partial)?;
    let marker = dir.join(format!("{arch}.complete"));
    let _ = std::fs::remove_file(&marker);
    if dest.exists() {
        std::fs::remove_dir_all(&dest)?;
    }
    std::fs::rename(&partial, &dest)?;
    std::fs::write(&marker, b"")?;
    super::executor::open_up(cache)?;
    Ok(dest)
}

/// What the cache holds: tool, version and architecture, complete ones only.
pub fn list(cache: &Path) -> Vec<(String, String, String)> {
    let names = |dir: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .map(|rd| {
                rd.flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| !n.starts_with('.'))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    let mut out = Vec::new();
    for tool in names(cache) {
        for version in names(&cache.join(&tool)) {
            for arch in names(&cache.join(&tool).join(&version)) {
                if cache
                    .join(&tool)
                    .join(&version)
                    .join(format!("{arch}.complete"))
                    .exists()
                {
                    out.push((tool.clone(), version.clone(), arch));
                }
            }
        }
    }
    out
}

/// Copies a folder: files with their executable bits, links as links.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src)?, &dst)?;
        } else if kind.is_dir() {
            copy_tree(&src, &dst)?;
        } else if kind.is_file() {
            std::fs::copy(&src, &dst)?;
        }
    }
    Ok(())
}

/// `ImageOS`, as GitHub names its images (`ubuntu24`): this host's
/// system and major version, from `/etc/os-release` (read once).
pub fn image_os() -> String {
    static IMAGE_OS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    IMAGE_OS.get_or_init(read_image_os).clone()
}

fn read_image_os() -> String {
    let text = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .map(|v| v.trim_matches('"').to_string())
            .unwrap_or_default()
    };
    let major = field("VERSION_ID=").split('.').next().unwrap_or_default().to_string();
    format!("{}{major}", field("ID="))
}
