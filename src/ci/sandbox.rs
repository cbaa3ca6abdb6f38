//! The sandbox every step of a job runs in: bubblewrap (`bwrap`, the
//! sandbox under Flatpak), started once per step. The step gets its own
//! mount namespace (the system read-only, its job's home, `/tmp` and runner
//! files read-write, nothing of the data directory), its own PID namespace
//! (when its main process ends, or bwrap is killed, or the server dies,
//! every process in it dies; `kill_leftovers` ends what a server killed
//! during a sandbox's set-up left), IPC and UTS namespaces, and optionally no
//! network but its own loopback. When the server runs as root the step runs
//! as a dedicated unprivileged uid/gid (`--ci-user`), dropped to with
//! `setpriv` inside the sandbox; otherwise bwrap puts it in a user
//! namespace as the server's own uid. No capabilities, no new privileges.
//!
//! Why bubblewrap: it is packaged everywhere (Debian's `bubblewrap`), small,
//! audited, and does exactly the namespaces-and-mounts part; hakoniwa or
//! our own `unshare` code would be ours to keep right. It costs a few
//! milliseconds a step (docs/performance.md, `benches/ci.sh`).

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use crate::config::SandboxSettings as Settings;
use crate::error::{Error, Result};

/// Where the job's runner files (scripts, `$GITHUB_ENV`…) are, seen from inside.
pub const RUNNER_DIR: &str = "/run/hearth";
/// The job's home, seen from inside.
pub const HOME: &str = "/home/runner";
/// `PATH` inside the sandbox: the system's, nothing of the server's.
pub const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// The account jobs run as when the server runs as root and `--ci-user` is not given.
pub const DEFAULT_USER: &str = "hearth-ci";
/// The uid/gid used when that account does not exist: one no account has.
const FALLBACK_ID: u32 = 64738;

/// How steps are started.
#[derive(Debug, Clone)]
pub enum Sandbox {
    /// `--ci-sandbox off`, or `hearth ci run` without `--sandbox`: steps run
    /// as the server's user with the server's view of the machine.
    Off,
    Bubblewrap(Bubblewrap),
    /// Asked for but impossible here: every job fails with this message.
    Broken(String),
}

#[derive(Debug, Clone)]
pub struct Bubblewrap {
    bwrap: PathBuf,
    /// As root: the uid and gid steps run as, and setpriv to drop to them.
    drop_to: Option<(u32, u32, PathBuf)>,
    network: bool,
    /// The arguments that are the same for every step (namespaces, the
    /// system's folders, what is hidden), worked out once.
    setup: Vec<OsString>,
}

/// The system folders a step sees, read-only (those that exist).
const SYSTEM: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt",
];

impl Sandbox {
    /// The sandbox `settings` ask for, checked by starting one: a missing
    /// tool or a kernel without namespaces gives `Broken` with how to fix
    /// it. `hide` are the server's own folders (data and work directories).
    /// An impossible setting (`--ci-user` when not root) is an error.
    pub fn prepare(settings: &Settings, hide: &[PathBuf]) -> Result<Sandbox> {
        if !settings.enabled {
            return Ok(Sandbox::Off);
        }
        // SAFETY: getuid(2) cannot fail and touches no memory.
        let root = unsafe { libc::getuid() } == 0;
        let ids = match (&settings.user, root) {
            (Some(user), false) => {
                return Err(Error::invalid(format!(
                    "--ci-user {user}: only a server running as root can run jobs as another user \
                     (without root, jobs run in a user namespace as the server's own user)"
                )));
            }
            (Some(user), true) => Some(resolve_user(user)?),
            (None, true) => Some(resolve_user(DEFAULT_USER).unwrap_or((FALLBACK_ID, FALLBACK_ID))),
            (None, false) => None,
        };
        if ids.is_some_and(|(uid, gid)| uid == 0 || gid == 0) {
            return Err(Error::invalid("--ci-user: jobs may not run as root"));
        }
        let Some(bwrap) = find_program("bwrap") else {
            return Ok(Sandbox::Broken(
                "bubblewrap (bwrap) is not installed. Install it (Debian and Ubuntu: apt install bubblewrap), \
                 or start the server with --ci-sandbox off to run jobs without a sandbox."
                    .into(),
            ));
        };
        let drop_to = match ids {
            Some((uid, gid)) => match find_program("setpriv") {
                Some(setpriv) => Some((uid, gid, setpriv)),
                None => {
                    return Ok(Sandbox::Broken(
                        "setpriv (util-linux) is not installed; it drops a job to its own user. \
                         Install util-linux, or start the server with --ci-sandbox off."
                            .into(),
                    ));
                }
            },
            None => None,
        };
        let hide: Vec<&PathBuf> = hide.iter().filter(|p| shown(p)).collect();
        let helper = match std::env::current_exe() {
            Ok(exe) => exe,
            Err(e) => {
                return Ok(Sandbox::Broken(format!(
                    "this program cannot find its own file ({e}); it runs built-in steps in the sandbox"
                )));
            }
        };
        let mut setup = setup_args(drop_to.is_some(), settings.network, &hide);
        // The job helper (this binary) does the built-in steps' work on the job's files.
        setup.extend([
            "--ro-bind".into(),
            helper.into_os_string(),
            super::helper::SEEN_AT.into(),
        ]);
        let sandbox = Sandbox::Bubblewrap(Bubblewrap {
            setup,
            bwrap,
            drop_to,
            network: settings.network,
        });
        Ok(match sandbox.check() {
            Ok(()) => sandbox,
            Err(why) => Sandbox::Broken(format!(
                "the job sandbox (bubblewrap) could not start: {why}. It needs user and PID namespaces \
                 (as root: mount and PID namespaces); or start the server with --ci-sandbox off."
            )),
        })
    }

    /// Starts the job helper in the sandbox once, as a job's built-in step would.
    fn check(&self) -> std::result::Result<(), String> {
        let dir = std::env::temp_dir().join(format!("hearth-sandbox-check-{}", std::process::id()));
        let mut work = super::executor::Work::create(&dir, "check").map_err(|e| e.to_string())?;
        let result = (|| {
            work.hand_over(self).map_err(|e| e.to_string())?;
            let argv = [
                self.helper_program(),
                "job-helper".into(),
                "hash".into(),
                "--workspace".into(),
                HOME.into(),
            ];
            let mut cmd = self.command(&work, Path::new("/"), &argv);
            let out = cmd
                .as_std_mut()
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .output()
                .map_err(|e| e.to_string())?;
            if out.status.success() {
                Ok(())
            } else {
                Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
            }
        })();
        work.remove();
        result
    }

    /// One line for the log at start-up: what holds a job.
    pub fn describe(&self) -> String {
        match self {
            Sandbox::Off => "CI sandbox: off: jobs run as the server's user and can read its data".into(),
            Sandbox::Broken(why) => format!("CI sandbox: unavailable, every job will fail: {why}"),
            Sandbox::Bubblewrap(b) => format!(
                "CI sandbox: bubblewrap ({}); jobs run {}; network: {}; mount, PID, IPC and UTS namespaces of their own",
                b.bwrap.display(),
                match &b.drop_to {
                    Some((uid, gid, _)) => format!("as uid {uid}, gid {gid}"),
                    None => "in a user namespace as the server's user".into(),
                },
                if b.network {
                    "the host's"
                } else {
                    "none (loopback only)"
                },
            ),
        }
    }

    /// The uid and gid a job's files must belong to, when not the server's.
    pub fn owner(&self) -> Option<(u32, u32)> {
        match self {
            Sandbox::Bubblewrap(Bubblewrap {
                drop_to: Some((uid, gid, _)),
                ..
            }) => Some((*uid, *gid)),
            _ => None,
        }
    }

    /// This binary, as a step sees it: it runs the built-in steps' work
    /// on the job's files (`ci::helper`).
    pub fn helper_program(&self) -> String {
        match self {
            Sandbox::Bubblewrap(_) => super::helper::SEEN_AT.into(),
            Sandbox::Off | Sandbox::Broken(_) => std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| "hearth".into()),
        }
    }

    pub fn is_on(&self) -> bool {
        !matches!(self, Sandbox::Off)
    }

    /// Why no job can run, if so.
    pub fn broken(&self) -> Option<&str> {
        match self {
            Sandbox::Broken(why) => Some(why),
            _ => None,
        }
    }

    /// The command that runs `argv` for job `work` in working directory
    /// `cwd` (as the job sees it). Its environment is empty: the caller sets
    /// the job's. Off, it is `argv` itself in `cwd`.
    pub fn command(&self, work: &super::executor::Work, cwd: &Path, argv: &[String]) -> tokio::process::Command {
        let b = match self {
            Sandbox::Bubblewrap(b) => b,
            Sandbox::Off | Sandbox::Broken(_) => {
                let mut cmd = tokio::process::Command::new(&argv[0]);
                cmd.args(&argv[1..]).current_dir(cwd).env_clear();
                return cmd;
            }
        };
        let mut args = b.setup.clone();
        let mut push = |items: &[&dyn AsRef<OsStr>]| {
            args.extend(items.iter().map(|a| a.as_ref().to_owned()));
        };
        push(&[&"--bind", &work.home, &HOME, &"--bind", &work.tmp, &"/tmp"]);
        push(&[&"--bind", &work.runner, &RUNNER_DIR]);
        // Read-write: a deploy step's target; read-only: the action a step runs.
        let mounts = (work.binds.iter().map(|(h, i)| (h, i, "--bind")))
            .chain(work.shown.iter().map(|(h, i)| (h, i, "--ro-bind")));
        for (host, inside, how) in mounts {
            // The folders on the way are made, open to pass through (bwrap
            // would make them for root only).
            let mut above: Vec<&Path> = inside.ancestors().skip(1).filter(|a| a.parent().is_some()).collect();
            above.reverse();
            for a in above {
                push(&[&"--perms", &"0755", &"--dir", &a]);
            }
            push(&[&how, host, inside]);
        }
        for file in ["passwd", "group"] {
            let ours = work.runner.join(file);
            if b.drop_to.is_some() && ours.exists() {
                push(&[&"--ro-bind", &ours, &Path::new("/etc").join(file)]);
            }
        }
        push(&[&"--chdir", &cwd, &"--"]);
        if let Some((uid, gid, setpriv)) = &b.drop_to {
            push(&[
                setpriv,
                &format!("--reuid={uid}"),
                &format!("--regid={gid}"),
                &"--clear-groups",
                &"--inh-caps=-all",
                &"--bounding-set=-all",
                &"--",
            ]);
        }
        args.extend(argv.iter().map(Into::into));
        let mut cmd = tokio::process::Command::new(&b.bwrap);
        cmd.args(args).env_clear().current_dir("/");
        cmd
    }
}

/// Kills the sandboxes of jobs under `work_dir` that outlived the server
/// which started them, and returns how many. `--die-with-parent` cannot
/// close one window: a server killed while bwrap is still setting up
/// leaves bwrap's own init of the PID namespace behind, parented to init,
/// with nothing to end it. Each is found by its command line (bwrap, with
/// a bind of one of this work directory's `job-N` folders); killing it,
/// the namespace's first process, ends every process in the namespace.
pub fn kill_leftovers(work_dir: &Path) -> usize {
    let ours = format!("{}/job-", work_dir.display());
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let mut killed = 0;
    for entry in procs.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let mut args = cmdline.split(|b| *b == 0).map(String::from_utf8_lossy);
        let is_bwrap = args.next().is_some_and(|a| a.rsplit('/').next() == Some("bwrap"));
        if is_bwrap && args.any(|a| a.starts_with(&ours)) {
            // SAFETY: kill(2) with a pid read from /proc and a constant signal.
            if unsafe { libc::kill(pid, libc::SIGKILL) } == 0 {
                killed += 1;
            }
        }
    }
    killed
}

/// The bwrap arguments every step shares: its namespaces (as root, with
/// only the capabilities setpriv needs to drop to the job's user; else a
/// user namespace), the network, the system's folders read-only (links
/// such as `/bin -> usr/bin` recreated as links), the server's folders in
/// `hide` covered, and a fresh `/proc` and `/dev`.
fn setup_args(as_root: bool, network: bool, hide: &[&PathBuf]) -> Vec<OsString> {
    let mut args: Vec<OsString> = Vec::new();
    let mut push = |items: &[&dyn AsRef<OsStr>]| {
        args.extend(items.iter().map(|a| a.as_ref().to_owned()));
    };
    push(&[
        &"--die-with-parent",
        &"--unshare-pid",
        &"--unshare-ipc",
        &"--unshare-uts",
    ]);
    push(&[&"--unshare-cgroup-try", &"--hostname", &"hearth-runner"]);
    if as_root {
        push(&[
            &"--cap-add",
            &"CAP_SETUID",
            &"--cap-add",
            &"CAP_SETGID",
            &"--cap-add",
            &"CAP_SETPCAP",
        ]);
    } else {
        push(&[&"--unshare-user"]);
    }
    if !network {
        push(&[&"--unshare-net"]);
    }
    for dir in SYSTEM {
        match std::fs::symlink_metadata(dir) {
            Ok(m) if m.file_type().is_symlink() => {
                if let Ok(target) = std::fs::read_link(dir) {
                    push(&[&"--symlink", &target, dir]);
                }
            }
            Ok(m) if m.is_dir() => push(&[&"--ro-bind", dir, dir]),
            _ => {}
        }
    }
    // Name resolution where /etc/resolv.conf points into /run.
    push(&[&"--ro-bind-try", &"/run/systemd/resolve", &"/run/systemd/resolve"]);
    for hidden in hide {
        push(&[&"--tmpfs", hidden]);
    }
    push(&[&"--proc", &"/proc", &"--dev", &"/dev"]);
    push(&[
        &"--perms", &"0755", &"--dir", &"/home", &"--perms", &"0755", &"--dir", &"/run",
    ]);
    args
}

/// Whether `path` lies under a folder the sandbox shows.
fn shown(path: &Path) -> bool {
    SYSTEM.iter().any(|dir| {
        let real = std::fs::canonicalize(dir).unwrap_or_else(|_| PathBuf::from(dir));
        path.starts_with(dir) || path.starts_with(real)
    })
}

/// `NAME` from /etc/passwd, or `UID[:GID]`.
fn resolve_user(user: &str) -> Result<(u32, u32)> {
    if let Some((uid, gid)) = numeric_ids(user) {
        return Ok((uid, gid));
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .filter_map(|line| {
            let mut f = line.split(':');
            let (name, _, uid, gid) = (f.next()?, f.next()?, f.next()?, f.next()?);
            (name == user).then(|| Some((uid.parse().ok()?, gid.parse().ok()?)))?
        })
        .next()
        .ok_or_else(|| {
            Error::invalid(format!(
                "--ci-user {user}: there is no such user; create it (useradd --system --no-create-home {user}) \
                 or give a number, UID or UID:GID"
            ))
        })
}

fn numeric_ids(text: &str) -> Option<(u32, u32)> {
    match text.split_once(':') {
        Some((uid, gid)) => Some((uid.parse().ok()?, gid.parse().ok()?)),
        None => {
            let id = text.parse().ok()?;
            Some((id, id))
        }
    }
}

/// `name` in the folders of the server's PATH.
fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_by_number_or_name() {
        assert_eq!(numeric_ids("1234"), Some((1234, 1234)));
        assert_eq!(numeric_ids("1234:99"), Some((1234, 99)));
        assert_eq!(numeric_ids("bob"), None);
        assert_eq!(resolve_user("root").unwrap(), (0, 0));
        assert!(resolve_user("no-such-user-here").is_err());
    }

    #[test]
    fn server_folders_under_shown_ones_are_hidden() {
        assert!(shown(Path::new("/opt/hearth/data")));
        assert!(shown(Path::new("/etc/hearth")));
        assert!(!shown(Path::new("/var/lib/hearth")));
        assert!(!shown(Path::new("/srv/hearth")));
    }
}
