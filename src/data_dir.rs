//! The one owner of the data directory's layout: every path under it is
//! asked of `DataDir`, so backup, CI and the pages cannot disagree.
//!
//! ```text
//! hearth.db (+ -wal, -shm)        the database
//! secrets.key                     the key that seals CI secrets
//! repos/{owner}/{repo}.git        bare repositories
//! runs/{run}/{job}.log            job logs, and {job}.summary.md
//! artifacts/{sha256}              artifacts, caches and release assets, by content
//! docs/{sha256}/                  published documentation, unpacked (a cache: made again when missing)
//! actions/{commit}/               actions of `uses:`, unpacked; actions/upstream/: mirrors (a cache)
//! tool-cache/{Tool}/{version}/{arch}  toolchains for setup-* actions (unless --tool-cache)
//! work/                           job folders (unless --work-dir)
//! ```

use std::path::{Path, PathBuf};

use crate::ids::{JobId, RunId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// The data directory at `root` (made absolute: jobs run elsewhere).
    pub fn new(root: &Path) -> std::io::Result<DataDir> {
        Ok(DataDir {
            root: std::path::absolute(root)?,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn database(&self) -> PathBuf {
        self.root.join("hearth.db")
    }

    /// The database and the files SQLite keeps beside it.
    pub fn database_files(&self) -> [PathBuf; 3] {
        ["hearth.db", "hearth.db-wal", "hearth.db-shm"].map(|f| self.root.join(f))
    }

    pub fn secrets_key(&self) -> PathBuf {
        self.root.join("secrets.key")
    }

    /// The git hooks receive-pack runs for repositories with protected
    /// branches (`pre-receive`, which calls this binary back).
    pub fn hooks(&self) -> PathBuf {
        self.root.join("hooks")
    }

    pub fn repos(&self) -> PathBuf {
        self.root.join("repos")
    }

    /// The bare repository `owner/name`.
    pub fn repo(&self, owner: &str, name: &str) -> PathBuf {
        self.repos().join(owner).join(format!("{name}.git"))
    }

    pub fn runs(&self) -> PathBuf {
        self.root.join("runs")
    }

    /// The log of job `job` of run `run`.
    pub fn job_log(&self, run: RunId, job: JobId) -> PathBuf {
        self.runs().join(run.to_string()).join(format!("{job}.log"))
    }

    /// What the steps of a job wrote to `$GITHUB_STEP_SUMMARY`.
    pub fn job_summary(&self, run: RunId, job: JobId) -> PathBuf {
        self.runs().join(run.to_string()).join(format!("{job}.summary.md"))
    }

    /// Where artifacts and caches are stored, each as `{sha256}`.
    pub fn artifacts(&self) -> PathBuf {
        self.root.join("artifacts")
    }

    /// Actions of `uses: owner/repo@ref`, each commit's tree unpacked as
    /// `{commit}/`, and `upstream/{owner}/{repo}.git`, the mirrors of those
    /// fetched from `--actions-url` (a cache: fetched again when missing).
    pub fn actions(&self) -> PathBuf {
        self.root.join("actions")
    }

    /// The runners' tool cache (unless `--tool-cache`), laid out as GitHub's.
    pub fn tool_cache(&self) -> PathBuf {
        self.root.join("tool-cache")
    }

    /// Published documentation, unpacked from its archive, by the archive's SHA-256.
    pub fn docs(&self) -> PathBuf {
        self.root.join("docs")
    }

    /// Job folders when no `--work-dir` is given.
    pub fn work(&self) -> PathBuf {
        self.root.join("work")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout() {
        let d = DataDir::new(Path::new("/srv/hearth")).unwrap();
        assert_eq!(d.repo("alice", "demo"), Path::new("/srv/hearth/repos/alice/demo.git"));
        assert_eq!(d.job_log(RunId(3), JobId(7)), Path::new("/srv/hearth/runs/3/7.log"));
        assert_eq!(
            d.job_summary(RunId(3), JobId(7)),
            Path::new("/srv/hearth/runs/3/7.summary.md")
        );
        assert!(DataDir::new(Path::new("data")).unwrap().root().is_absolute());
    }
}
