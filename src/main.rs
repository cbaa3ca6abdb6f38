//! The `hearth` binary: parse the command line, start logging, dispatch.

use std::io::BufRead;
use std::process::ExitCode;

use clap::Parser;
use hearth::cli::{AdminCommand, CiCommand, Cli, Command, HookCommand, ToolCacheCommand};
use hearth::config::Config;
use hearth::data_dir::DataDir;
use hearth::error::{Context, Error};
use hearth::{accounts, db};

fn main() -> ExitCode {
    // What Hearth writes (database, repositories, logs, keys) is its own:
    // other local users read nothing. Job steps get 022 back.
    // SAFETY: umask(2) only sets this process's file mode mask.
    unsafe { libc::umask(0o077) };
    let cli = Cli::parse();
    match cli.command {
        Command::Hook(HookCommand::PreReceive) => return hearth::pulls::hook::run_pre_receive(),
        Command::JobHelper(op) => return hearth::ci::helper::inside::main(op),
        _ => {}
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HEARTH_LOG").unwrap_or_else(|_| "info,hyper=warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Why a command ends without success: something went wrong, or what it
/// did found something wrong (jobs that failed, workflow files with
/// errors). Either is said on stderr, and the exit status is 1.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error(transparent)]
    Error(#[from] Error),
    #[error("{0}")]
    Found(String),
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Failure {
        Failure::Error(e.into())
    }
}

async fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Serve(args) => {
            let mut config = Config::new(args.data.dir, args.listen, &args.max_push_size, args.base_url)?;
            config.failpoint = args.failpoint;
            config.work_dir = args.work_dir.map(std::path::absolute).transpose()?;
            config.ci = hearth::config::CiLimits {
                jobs: args
                    .ci_jobs
                    .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2))
                    .max(1),
                max_timeout_seconds: args.ci_max_timeout.clamp(1, 7 * 24 * 60) * 60,
                memory_bytes: hearth::config::parse_size(&args.ci_job_memory)?.max(16 << 20),
                processes: args.ci_job_processes.max(8),
            };
            config.registration_open = args.registration == "open";
            config.actions_url = hearth::config::actions_url(&args.actions_url)?;
            config.webhook_allow_hosts = args.webhook_allow_hosts;
            config.metrics_token = args.metrics_token.filter(|t| !t.is_empty());
            config.metrics_public = args.metrics_public;
            let smtp_from = args.smtp_from.clone();
            config.mail = args
                .smtp_url
                .clone()
                .filter(|u| !u.is_empty())
                .map(|url| hearth::config::MailSettings { url, from: smtp_from });
            config.tool_cache = args.tool_cache.map(std::path::absolute).transpose()?;
            config.sandbox = hearth::config::SandboxSettings {
                enabled: args.ci_sandbox == "on",
                user: args.ci_user,
                network: args.ci_network == "host",
                deploy_dir: args.deploy_dir.map(std::path::absolute).transpose()?,
            };
            let listener = tokio::net::TcpListener::bind(config.listen)
                .await
                .with_context(|| format!("could not listen on {}", config.listen))?;
            Ok(hearth::serve(config, listener).await?)
        }
        Command::Admin(AdminCommand::CreateUser {
            name,
            admin,
            email,
            data,
        }) => {
            let db = hearth::open_data_dir(&data.data_dir()?)?;
            let mut password = String::new();
            std::io::stdin().lock().read_line(&mut password)?;
            let password = password.trim_end_matches(['\n', '\r']);
            let user = accounts::create_user(
                &db,
                &Default::default(),
                &name,
                email.as_deref(),
                password,
                accounts::Maker::Admin { admin },
            )
            .await?;
            eprintln!(
                "created user {}{}",
                user.name,
                if user.is_admin { " (admin)" } else { "" }
            );
            Ok(())
        }
        Command::Backup { out, data } => {
            let summary = hearth::backup::backup(&data.data_dir()?, &DataDir::new(&out)?)?;
            eprintln!(
                "backed up {} repositories, {} files, {} MiB into {}",
                summary.repositories,
                summary.files,
                summary.bytes >> 20,
                out.display()
            );
            Ok(())
        }
        Command::Hook(_) => unreachable!("hooks run before the runtime starts (see main)"),
        Command::JobHelper(_) => unreachable!("the job helper runs before the runtime starts (see main)"),
        Command::Ci(CiCommand::Lint { files }) => lint(files),
        Command::Ci(CiCommand::Run { job, sandbox }) => {
            let settings = hearth::config::SandboxSettings {
                enabled: sandbox,
                ..Default::default()
            };
            let sandbox = hearth::ci::sandbox::Sandbox::prepare(&settings, &[])?;
            if let Some(why) = sandbox.broken() {
                return Err(Failure::Found(why.to_string()));
            }
            let failed = hearth::ci::local::run(std::path::Path::new("."), job.as_deref(), &sandbox).await?;
            if failed > 0 {
                return Err(Failure::Found(format!(
                    "{failed} job{} failed",
                    if failed == 1 { "" } else { "s" }
                )));
            }
            println!("Hearth: every job succeeded");
            Ok(())
        }
        Command::Admin(AdminCommand::ToolCache { command }) => {
            match command {
                ToolCacheCommand::Add {
                    tool,
                    version,
                    folder,
                    arch,
                    cache,
                } => {
                    let dest = hearth::ci::tool_cache::add(&cache.dir()?, &tool, &version, &arch, &folder)?;
                    println!("added {tool} {version} ({arch}) at {}", dest.display());
                }
                ToolCacheCommand::List { cache } => {
                    for (tool, version, arch) in hearth::ci::tool_cache::list(&cache.dir()?) {
                        println!("{tool} {version} {arch}");
                    }
                }
            }
            Ok(())
        }
        Command::Admin(AdminCommand::Token { name, label, data }) => {
            let db = hearth::open_data_dir(&data.data_dir()?)?;
            let lookup = name.clone();
            let user = db
                .read(move |c| db::users::by_name(c, &lookup))
                .await?
                .ok_or_else(|| Error::invalid(format!("there is no user named {name:?}")))?;
            let token = accounts::create_token(&db, user.id, &label).await?;
            println!("{token}");
            Ok(())
        }
    }
}

/// `hearth ci lint`: every file's job graph on stdout, errors on stderr.
fn lint(files: Vec<std::path::PathBuf>) -> Result<(), Failure> {
    let files = if files.is_empty() {
        hearth::ci::local_workflows(std::path::Path::new("."))
    } else {
        files
    };
    if files.is_empty() {
        return Err(Failure::Found(
            "no workflow files here (.hearth/workflows/*.yml or .github/workflows/*.yml)".into(),
        ));
    }
    let mut failed = 0;
    for path in &files {
        let name = path.display().to_string();
        let name = name.strip_prefix("./").unwrap_or(&name);
        // Every problem of the file, each on a line of its own.
        let parsed = std::fs::read_to_string(path)
            .map_err(|e| vec![format!("{name}: {e}")])
            .and_then(|text| hearth::ci::workflow::parse_all(name, &text))
            .and_then(|mut w| {
                hearth::ci::inline_local(path, &mut w).map_err(|e| vec![e.to_string()])?;
                Ok(w)
            });
        match parsed {
            Ok(w) => print!("{}", hearth::ci::describe(name, &w)),
            Err(problems) => {
                for p in problems {
                    eprintln!("error: {p}");
                }
                failed += 1;
            }
        }
    }
    if failed > 0 {
        return Err(Failure::Found(format!(
            "{failed} of {} workflow files have errors",
            files.len()
        )));
    }
    Ok(())
}
