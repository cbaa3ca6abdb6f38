//! The command line: clap derive, where each `///` is the flag's `--help` and
//! every flag can also come from a `HEARTH_*` environment variable. Raw
//! arguments become a validated `Config` in `config.rs`; nothing here runs.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "hearth", version, about = "A self-hosted git forge with CI/CD built in")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve repositories, pages and the API over HTTP.
    Serve(Box<ServeArgs>),
    /// Administrative tasks on a data directory (work while a server runs).
    #[command(subcommand)]
    Admin(AdminCommand),
    /// A consistent snapshot of a data directory (database, repositories,
    /// secrets key, job logs, artifacts) into a new folder OUT, while the
    /// server runs. Restore by serving with `--data OUT`.
    Backup {
        /// A new (or empty) folder for the copy.
        out: PathBuf,
        #[command(flatten)]
        data: DataArg,
    },
    /// Workflows: check them, and run them here, before pushing.
    #[command(subcommand)]
    Ci(CiCommand),
    /// The git hooks the server installs (run by git, not by people).
    #[command(subcommand, hide = true)]
    Hook(HookCommand),
    /// What a built-in step does with a job's files, run inside the job's
    /// sandbox as the job's user (started by the server, not by people).
    #[command(subcommand, hide = true)]
    JobHelper(crate::ci::helper::inside::Op),
}

#[derive(Debug, Subcommand)]
pub enum HookCommand {
    /// Checks a push against the repository's protected branches.
    PreReceive,
}

#[derive(Debug, Subcommand)]
pub enum CiCommand {
    /// Parse workflow files and print their job graph, or the errors with
    /// file and line. Without FILE: the workflows of the current checkout
    /// (.hearth/workflows/*.yml, else .github/workflows/*.yml).
    Lint {
        /// Workflow files to check.
        files: Vec<PathBuf>,
    },
    /// Run the workflows of the current checkout here, with the executor the
    /// server uses: each job in a fresh copy of the working tree (uncommitted
    /// changes included, ignored files not). Logs go to the terminal; the
    /// exit code is 1 when a job failed.
    Run {
        /// Only this job (and the jobs it needs).
        #[arg(long)]
        job: Option<String>,
        /// Run each step in the sandbox the server uses (bubblewrap): it
        /// sees the system read-only and its own workspace, nothing else.
        #[arg(long)]
        sandbox: bool,
    },
}

#[derive(Debug, Args)]
pub struct DataArg {
    /// Data directory: database, repositories, logs.
    #[arg(long = "data", env = "HEARTH_DATA", default_value = "./data")]
    pub dir: PathBuf,
}

impl DataArg {
    pub fn data_dir(&self) -> std::io::Result<crate::data_dir::DataDir> {
        crate::data_dir::DataDir::new(&self.dir)
    }
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub data: DataArg,
    /// Address and port to listen on (port 0 picks a free port).
    #[arg(long, env = "HEARTH_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,
    /// Largest push accepted, in bytes or with a K, M or G suffix.
    #[arg(long, env = "HEARTH_MAX_PUSH_SIZE", default_value = "2G")]
    pub max_push_size: String,
    /// URL people use to reach this server, for clone URLs
    /// (default: taken from each request's Host header).
    #[arg(long, env = "HEARTH_BASE_URL")]
    pub base_url: Option<String>,
    /// Where CI jobs get their workspaces (default: DATA/work). A tmpfs
    /// makes checkouts much faster.
    #[arg(long, env = "HEARTH_WORK_DIR")]
    pub work_dir: Option<PathBuf>,
    /// CI jobs run at once (default: the number of CPUs).
    #[arg(long, env = "HEARTH_CI_JOBS")]
    pub ci_jobs: Option<usize>,
    /// The longest a job may run, in minutes: `timeout-minutes` is capped here.
    #[arg(long, env = "HEARTH_CI_MAX_TIMEOUT", default_value_t = crate::config::DEFAULT_MAX_TIMEOUT_MINUTES)]
    pub ci_max_timeout: u64,
    /// Memory each process of a job may allocate (its data size), and,
    /// where the server can make cgroups, all of a step's processes
    /// together; in bytes or with a K, M or G suffix.
    #[arg(long, env = "HEARTH_CI_JOB_MEMORY", default_value = crate::config::DEFAULT_JOB_MEMORY)]
    pub ci_job_memory: String,
    /// Processes a step may have at once; more (a fork bomb) stops the step.
    #[arg(long, env = "HEARTH_CI_JOB_PROCESSES", default_value_t = crate::config::DEFAULT_JOB_PROCESSES)]
    pub ci_job_processes: usize,
    /// Who may create an account: `closed` (the first account registers
    /// itself and becomes the administrator; admins make the others, at
    /// /admin/users or with `hearth admin create-user`) or `open` (anyone).
    #[arg(long, env = "HEARTH_REGISTRATION", default_value = "closed", value_parser = ["open", "closed"])]
    pub registration: String,
    /// Whether jobs run in a sandbox (bubblewrap): `on`, or `off` to run them
    /// as the server's own user, able to read all its data (only for a
    /// server whose every account is trusted).
    #[arg(long, env = "HEARTH_CI_SANDBOX", default_value = "on", value_parser = ["on", "off"])]
    pub ci_sandbox: String,
    /// The user jobs run as when the server runs as root: a name or
    /// UID[:GID] (default: the account hearth-ci, or uid and gid 64738,
    /// which no account has).
    #[arg(long, env = "HEARTH_CI_USER")]
    pub ci_user: Option<String>,
    /// The network of jobs: `host` (the machine's, to fetch dependencies)
    /// or `none` (only a loopback of their own).
    #[arg(long, env = "HEARTH_CI_NETWORK", default_value = "host", value_parser = ["host", "none"])]
    pub ci_network: String,
    /// The folder that holds the local targets of `hearth/deploy` steps
    /// (`local:NAME` is `{dir}/{owner}/{repo}/{environment}/NAME`); a
    /// deploy step sees only its own target's folder. Without it, deploys
    /// go to ssh targets only.
    #[arg(long, env = "HEARTH_DEPLOY_DIR")]
    pub deploy_dir: Option<PathBuf>,
    /// The runners' tool cache (RUNNER_TOOL_CACHE), laid out as GitHub's, so
    /// that setup-python, setup-node and setup-go find versions there
    /// (default: DATA/tool-cache; fill it with `hearth admin tool-cache add`).
    #[arg(long, env = "HEARTH_TOOL_CACHE")]
    pub tool_cache: Option<PathBuf>,
    /// Where `uses: owner/repo@ref` is fetched from when `owner/repo` is not
    /// a repository of this server: a git host such as
    /// `https://github.com`; empty (the default) for this server's only.
    #[arg(long, env = "HEARTH_ACTIONS_URL", default_value = "")]
    pub actions_url: String,
    /// Hosts webhooks may reach although they are loopback or private
    /// addresses, comma-separated (e.g. `127.0.0.1,ci.internal`). Others
    /// must resolve to public addresses only.
    #[arg(long, env = "HEARTH_WEBHOOK_ALLOW_HOSTS", value_delimiter = ',')]
    pub webhook_allow_hosts: Vec<String>,
    /// A token `/metrics` asks of scrapers (`Authorization: Bearer TOKEN`);
    /// without it, /metrics answers only this machine (loopback), unless
    /// --metrics-public.
    #[arg(long, env = "HEARTH_METRICS_TOKEN")]
    pub metrics_token: Option<String>,
    /// `/metrics` answers anyone, from anywhere, without a token.
    #[arg(long, env = "HEARTH_METRICS_PUBLIC")]
    pub metrics_public: bool,
    /// The SMTP relay notifications are e-mailed through:
    /// `smtp://host:25` (plain), `smtp://host:587?tls=required` (STARTTLS)
    /// or `smtps://user:password@host` (TLS). Without it (the default), no
    /// e-mail is sent.
    #[arg(long, env = "HEARTH_SMTP_URL")]
    pub smtp_url: Option<String>,
    /// The From address of those e-mails.
    #[arg(long, env = "HEARTH_SMTP_FROM", default_value = "Hearth <hearth@localhost>")]
    pub smtp_from: String,
    /// Fault injection for crash tests: `after-receive-pack` aborts the
    /// server once git has updated refs but before they are recorded.
    #[arg(long, env = "HEARTH_FAILPOINT", hide = true)]
    pub failpoint: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ToolCacheCommand {
    /// Copy FOLDER in as TOOL/VERSION/ARCH (GitHub's names: Python, node, go).
    Add {
        tool: String,
        version: String,
        folder: PathBuf,
        /// x64, arm64…
        #[arg(long, default_value = "x64")]
        arch: String,
        #[command(flatten)]
        cache: ToolCacheArg,
    },
    /// The toolchains in the cache.
    List {
        #[command(flatten)]
        cache: ToolCacheArg,
    },
}

/// Where the tool cache is: `--tool-cache`, else in the data directory.
#[derive(Debug, Args)]
pub struct ToolCacheArg {
    /// The tool cache (default: DATA/tool-cache).
    #[arg(long, env = "HEARTH_TOOL_CACHE")]
    pub tool_cache: Option<PathBuf>,
    #[command(flatten)]
    pub data: DataArg,
}

impl ToolCacheArg {
    pub fn dir(&self) -> std::io::Result<PathBuf> {
        match &self.tool_cache {
            Some(dir) => Ok(dir.clone()),
            None => Ok(self.data.data_dir()?.tool_cache()),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a user; the password is read as one line from standard input.
    CreateUser {
        /// User name: letters, digits, '.', '_' and '-', up to 40 characters.
        name: String,
        /// Make the user a site administrator.
        #[arg(long)]
        admin: bool,
        /// E-mail address.
        #[arg(long, env = "HEARTH_EMAIL")]
        email: Option<String>,
        #[command(flatten)]
        data: DataArg,
    },
    /// The runners' tool cache: `add TOOL VERSION FOLDER` copies a host's
    /// toolchain in (as `Python 3.12.4 /opt/python-3.12.4`), `list` says what is there.
    ToolCache {
        #[command(subcommand)]
        command: ToolCacheCommand,
    },
    /// Create a personal access token for a user and print it on standard output.
    Token {
        /// The user the token belongs to.
        name: String,
        /// What the token is for, shown in the token list.
        #[arg(long, env = "HEARTH_TOKEN_LABEL", default_value = "cli")]
        label: String,
        #[command(flatten)]
        data: DataArg,
    },
}
