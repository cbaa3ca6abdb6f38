//! The validated configuration of a server, built from the command line.
//! Every path under the data directory is asked of its `DataDir`.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::data_dir::DataDir;
use crate::error::{Context, Error, Result};

#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: DataDir,
    pub listen: SocketAddr,
    /// Largest accepted push body, in bytes.
    pub max_push_size: u64,
    /// Base URL for clone URLs, without a trailing slash.
    pub base_url: Option<String>,
    /// Fault injection for crash tests (see `cli::ServeArgs::failpoint`).
    pub failpoint: Option<String>,
    /// Where CI jobs get their workspaces; `None` is `data/work`.
    pub work_dir: Option<PathBuf>,
    /// How much CI may take of this machine.
    pub ci: CiLimits,
    /// What jobs run in.
    pub sandbox: SandboxSettings,
    /// `--tool-cache`: toolchains for setup-* actions; `None` is `data/tool-cache`.
    pub tool_cache: Option<PathBuf>,
    /// `--actions-url`: where actions not on this server are fetched from
    /// (`https://github.com`); `None`: only this server's repositories.
    pub actions_url: Option<String>,
    /// Anyone may create an account (`--registration open`); otherwise only
    /// the first account registers itself, and admins make the others.
    pub registration_open: bool,
    /// `--webhook-allow-hosts`: private hosts webhooks may reach.
    pub webhook_allow_hosts: Vec<String>,
    /// `--metrics-token`: the bearer token `/metrics` asks for, if any.
    pub metrics_token: Option<String>,
    /// `--metrics-public`: `/metrics` answers anyone without a token
    /// (else, without a token, only loopback).
    pub metrics_public: bool,
    /// `--smtp-url` and `--smtp-from`: how notifications are e-mailed; `None`: they are not.
    pub mail: Option<MailSettings>,
}

/// How e-mail is sent: the relay and the sender.
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// `smtp://host:port` (plain), `smtp://…?tls=required` (STARTTLS) or
    /// `smtps://host` (TLS), with `user:password@` when the relay asks.
    pub url: String,
    /// The From address, e.g. `Hearth <hearth@example.com>`.
    pub from: String,
}

impl Config {
    pub fn new(data_dir: PathBuf, listen: SocketAddr, max_push_size: &str, base_url: Option<String>) -> Result<Config> {
        let max_push_size = parse_size(max_push_size)?;
        let base_url = match base_url {
            Some(url) if !(url.starts_with("http://") || url.starts_with("https://")) => {
                return Err(Error::invalid(format!(
                    "--base-url must start with http:// or https://, got {url:?}"
                )));
            }
            other => other.map(|u| u.trim_end_matches('/').to_string()),
        };
        // Jobs run in folders of their own: every path handed to them is absolute.
        let data_dir = DataDir::new(&data_dir).with_context(|| format!("the data directory {}", data_dir.display()))?;
        Ok(Config {
            data_dir,
            listen,
            max_push_size,
            base_url,
            failpoint: None,
            work_dir: None,
            ci: Default::default(),
            sandbox: Default::default(),
            actions_url: None,
            tool_cache: None,
            registration_open: false,
            webhook_allow_hosts: Vec::new(),
            metrics_token: None,
            metrics_public: false,
            mail: None,
        })
    }

    /// Whether the site is reached over https (`--base-url https://…`):
    /// then cookies are `Secure`.
    pub fn is_https(&self) -> bool {
        self.base_url.as_deref().is_some_and(|b| b.starts_with("https://"))
    }

    pub fn tool_cache(&self) -> PathBuf {
        self.tool_cache.clone().unwrap_or_else(|| self.data_dir.tool_cache())
    }

    pub fn work_dir(&self) -> PathBuf {
        self.work_dir.clone().unwrap_or_else(|| self.data_dir.work())
    }
}

/// `--ci-max-timeout`, in minutes.
pub const DEFAULT_MAX_TIMEOUT_MINUTES: u64 = 360;
/// `--ci-job-memory`.
pub const DEFAULT_JOB_MEMORY: &str = "4G";
/// `--ci-job-processes`.
pub const DEFAULT_JOB_PROCESSES: usize = 1024;

/// How much of the machine CI may take.
#[derive(Debug, Clone, Copy)]
pub struct CiLimits {
    /// Jobs at once.
    pub jobs: usize,
    /// `timeout-minutes` is capped here.
    pub max_timeout_seconds: u64,
    /// RLIMIT_DATA of each process of a job, and the memory of each
    /// step's cgroup where there is one.
    pub memory_bytes: u64,
    /// Processes a step may have at once (its cgroup's pids.max too).
    pub processes: usize,
}

impl Default for CiLimits {
    fn default() -> CiLimits {
        CiLimits {
            jobs: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
            max_timeout_seconds: DEFAULT_MAX_TIMEOUT_MINUTES * 60,
            memory_bytes: parse_size(DEFAULT_JOB_MEMORY).expect("the default is a size"),
            processes: DEFAULT_JOB_PROCESSES,
        }
    }
}

/// What the administrator asked of the job sandbox (`--ci-sandbox`,
/// `--ci-user`, `--ci-network`).
#[derive(Debug, Clone)]
pub struct SandboxSettings {
    pub enabled: bool,
    /// A user name, or `UID[:GID]`.
    pub user: Option<String>,
    /// false: the job has only its own loopback.
    pub network: bool,
    /// `--deploy-dir`: where the local targets of `hearth/deploy` live
    /// (`{dir}/{owner}/{repo}/{environment}/{target}`); none: no local targets.
    pub deploy_dir: Option<std::path::PathBuf>,
}

impl Default for SandboxSettings {
    fn default() -> SandboxSettings {
        SandboxSettings {
            enabled: true,
            user: None,
            network: true,
            deploy_dir: None,
        }
    }
}

/// `--actions-url`: empty for none, else an http(s) URL, kept without a
/// trailing slash.
pub fn actions_url(text: &str) -> Result<Option<String>> {
    let url = text.trim().trim_end_matches('/');
    if url.is_empty() {
        return Ok(None);
    }
    if !(url.starts_with("https://") || url.starts_with("http://")) || url.contains(char::is_whitespace) {
        return Err(Error::invalid(format!(
            "--actions-url must be an http:// or https:// address such as https://github.com, got {text:?}"
        )));
    }
    Ok(Some(url.to_string()))
}

/// Parses `1234`, `10K`, `5M`, `2G` (binary units, case-insensitive, an
/// optional trailing `B` or `iB`).
pub fn parse_size(text: &str) -> Result<u64> {
    let t = text.trim();
    let t = t
        .strip_suffix("iB")
        .or_else(|| t.strip_suffix("ib"))
        .or_else(|| t.strip_suffix(['B', 'b']))
        .unwrap_or(t);
    let (digits, shift) = match t.chars().last() {
        Some('k' | 'K') => (&t[..t.len() - 1], 10),
        Some('m' | 'M') => (&t[..t.len() - 1], 20),
        Some('g' | 'G') => (&t[..t.len() - 1], 30),
        _ => (t, 0),
    };
    digits
        .trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1u64 << shift))
        .filter(|&n| n > 0)
        .ok_or_else(|| Error::invalid(format!("not a size: {text:?} (try 2G, 500M or a number of bytes)")))
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("2G").unwrap(), 2 << 30);
        assert_eq!(parse_size("10MiB").unwrap(), 10 << 20);
        assert_eq!(parse_size("512k").unwrap(), 512 << 10);
        assert_eq!(parse_size("1000").unwrap(), 1000);
        assert!(parse_size("lots").is_err());
        assert!(parse_size("0").is_err());
        assert!(parse_size("99999999999999G").is_err());
    }
}
