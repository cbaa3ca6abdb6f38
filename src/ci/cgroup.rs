//! cgroup limits on a step: memory (`--ci-job-memory`) and processes
//! (`--ci-job-processes`) for all of the step's processes together, on top
//! of each process's rlimits. They hold where the server may make cgroups:
//! a cgroup v2 hierarchy whose memory and pids controllers it can enable
//! below its own cgroup, or else cgroup v1's memory and pids hierarchies
//! (hybrid machines); each controller is taken from wherever it is. A
//! server makes one folder of its own, `hearth-<pid>`, below its own cgroup
//! in each hierarchy, and a cgroup per step below that, removed after the
//! step; a start sweeps the empty folders of servers that are gone.
//!
//! Written here rather than with cgroups-rs: that crate makes a group in
//! every mounted hierarchy at once and at the hierarchy's root unless told
//! otherwise (outside the cgroup the server was given), and brings nix,
//! regex and a D-Bus client; what a step needs is three files written, two
//! read and a folder made and removed. Processes join their cgroup before
//! they run (`cgroup.procs`, written between fork and exec), so nothing a
//! step starts is ever outside it.

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Where cgroups are mounted (`/proc/self/mountinfo`).
const MOUNTINFO: &str = "/proc/self/mountinfo";
/// Which cgroup the server is in, per hierarchy (`/proc/self/cgroup`).
const OWN_CGROUP: &str = "/proc/self/cgroup";

/// A controller's place: the server's own folder below its cgroup, in a
/// v1 hierarchy of its own or the v2 one.
#[derive(Debug, Clone)]
struct Place {
    dir: PathBuf,
    v2: bool,
}

/// The cgroup limits this server sets on steps, or why it sets none.
#[derive(Debug)]
pub struct Cgroups {
    memory: Option<Place>,
    pids: Option<Place>,
    memory_bytes: u64,
    processes: usize,
    /// Why a controller is not used, for the log.
    why_not: Vec<String>,
    next: AtomicU64,
    /// Step cgroups not yet empty when their step ended: removed later.
    leftover: Arc<Mutex<Vec<PathBuf>>>,
}

impl Cgroups {
    /// No cgroup limits (`hearth ci run`, or a server that asked for none).
    pub fn none(why: &str) -> Cgroups {
        Cgroups::empty(0, 0, vec![why.to_string()])
    }

    fn empty(memory_bytes: u64, processes: usize, why_not: Vec<String>) -> Cgroups {
        Cgroups {
            memory: None,
            pids: None,
            memory_bytes,
            processes,
            why_not,
            next: AtomicU64::new(0),
            leftover: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Finds where memory and pids controllers can be used by this server,
    /// makes its folders there (sweeping those of servers that are gone),
    /// and checks that a step's cgroup can be made with the limits.
    /// Blocking: call off the async runtime.
    pub fn set_up(memory_bytes: u64, processes: usize) -> Cgroups {
        let mounts = std::fs::read_to_string(MOUNTINFO).unwrap_or_default();
        let own = std::fs::read_to_string(OWN_CGROUP).unwrap_or_default();
        let mut found = Cgroups::empty(memory_bytes, processes, Vec::new());
        let v2 = v2_dir(&mounts, &own);
        for controller in ["memory", "pids"] {
            let place = match place_of(controller, v2.as_deref(), &mounts, &own) {
                Ok(place) => place,
                Err(why) => {
                    found.why_not.push(format!("{controller}: {why}"));
                    continue;
                }
            };
            match controller {
                "memory" => found.memory = Some(place),
                _ => found.pids = Some(place),
            }
        }
        if found.any() {
            // One step's cgroup, made and removed: what every step will do.
            let tried = found.step().map(drop);
            if let Err(why) = tried {
                found.why_not.push(format!("a step's cgroup could not be made: {why}"));
                found.memory = None;
                found.pids = None;
            }
        }
        found
    }

    /// One line for the start-up log and each job's: which limits hold.
    pub fn describe(&self) -> String {
        let version = |p: &Place| if p.v2 { "cgroup v2" } else { "cgroup v1" };
        let mut held = Vec::new();
        if let Some(p) = &self.memory {
            held.push(format!("{} MiB of memory ({})", self.memory_bytes >> 20, version(p)));
        }
        if let Some(p) = &self.pids {
            held.push(format!("{} processes ({})", self.processes, version(p)));
        }
        let mut line = match held.is_empty() {
            true => "cgroup limits per step: none".to_string(),
            false => format!(
                "cgroup limits per step, all its processes together: {}",
                held.join(", ")
            ),
        };
        if !self.why_not.is_empty() {
            line += &format!(" (not set: {})", self.why_not.join("; "));
        }
        line
    }

    /// Whether a step gets a cgroup at all.
    fn any(&self) -> bool {
        self.memory.is_some() || self.pids.is_some()
    }

    /// A new cgroup for one step, with the limits written; `None` where no
    /// limits hold.
    pub fn step(&self) -> std::io::Result<Option<Step<'_>>> {
        if !self.any() {
            return Ok(None);
        }
        self.remove_leftovers();
        let name = format!("step-{}", self.next.fetch_add(1, Ordering::Relaxed));
        let mut step = Step {
            owner: self,
            name: name.clone(),
            dirs: Vec::new(),
            procs: Vec::new(),
        };
        for (controller, place) in [("memory", &self.memory), ("pids", &self.pids)] {
            let Some(place) = place else { continue };
            let dir = place.dir.join(&name);
            if !step.dirs.contains(&dir) {
                std::fs::create_dir(&dir)?;
                step.procs.push(c_path(&dir.join("cgroup.procs"))?);
                step.dirs.push(dir.clone());
            }
            match (controller, place.v2) {
                ("memory", true) => {
                    write(&dir, "memory.max", &self.memory_bytes.to_string())?;
                    // Swap would let a step hold more than its memory.
                    let _ = write(&dir, "memory.swap.max", "0");
                }
                ("memory", false) => {
                    write(&dir, "memory.limit_in_bytes", &self.memory_bytes.to_string())?;
                    // memory+swap: present where swap is accounted.
                    if dir.join("memory.memsw.limit_in_bytes").exists() {
                        write(&dir, "memory.memsw.limit_in_bytes", &self.memory_bytes.to_string())?;
                    }
                }
                _ => write(&dir, "pids.max", &self.processes.to_string())?,
            }
        }
        Ok(Some(step))
    }

    fn remove_leftovers(&self) {
        let mut leftover = self.leftover.lock().unwrap_or_else(|e| e.into_inner());
        leftover.retain(|dir| std::fs::remove_dir(dir).is_err() && dir.exists());
    }
}

impl Drop for Cgroups {
    fn drop(&mut self) {
        self.remove_leftovers();
        for place in [&self.memory, &self.pids].into_iter().flatten() {
            let _ = std::fs::remove_dir(&place.dir);
        }
    }
}

/// The cgroup of one step: its processes join it before they run.
#[derive(Debug)]
pub struct Step<'a> {
    owner: &'a Cgroups,
    name: String,
    dirs: Vec<PathBuf>,
    /// `cgroup.procs` of each of its folders, ready for `join`.
    procs: Vec<CString>,
}

impl Step<'_> {
    /// Puts the calling process in this cgroup. Made to run between fork
    /// and exec: only open(2), write(2) and close(2), no allocation.
    pub fn join(procs: &[CString]) -> std::io::Result<()> {
        for path in procs {
            // SAFETY: `path` is a valid NUL-terminated string; writing "0"
            // to cgroup.procs moves the writer itself (cgroup v1 and v2).
            unsafe {
                let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                if fd < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let wrote = libc::write(fd, b"0".as_ptr().cast(), 1);
                let error = std::io::Error::last_os_error();
                libc::close(fd);
                if wrote != 1 {
                    return Err(error);
                }
            }
        }
        Ok(())
    }

    /// The files `join` writes, to be moved into the child's pre-exec hook.
    pub fn procs(&self) -> Vec<CString> {
        self.procs.clone()
    }

    /// How many of the step's processes the kernel killed for want of
    /// memory (the limit is for all of them together).
    pub fn oom_kills(&self) -> u64 {
        let Some(place) = &self.owner.memory else { return 0 };
        let file = if place.v2 {
            "memory.events"
        } else {
            "memory.oom_control"
        };
        counter(&place.dir.join(&self.name).join(file), "oom_kill")
    }

    /// How many times a fork failed for the process limit.
    pub fn forks_refused(&self) -> u64 {
        let Some(place) = &self.owner.pids else { return 0 };
        counter(&place.dir.join(&self.name).join("pids.events"), "max")
    }
}

impl Drop for Step<'_> {
    /// The step's cgroup goes. Its last processes may still be exiting
    /// (killed with their PID namespace): a thread tries again for a
    /// while, and what is still there then goes at the next step.
    fn drop(&mut self) {
        let dirs: Vec<PathBuf> = self
            .dirs
            .drain(..)
            .filter(|d| std::fs::remove_dir(d).is_err())
            .collect();
        if dirs.is_empty() {
            return;
        }
        let leftover = Arc::clone(&self.owner.leftover);
        std::thread::spawn(move || {
            let mut dirs = dirs;
            for _ in 0..100 {
                dirs.retain(|d| std::fs::remove_dir(d).is_err() && d.exists());
                if dirs.is_empty() {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            leftover.lock().unwrap_or_else(|e| e.into_inner()).extend(dirs);
        });
    }
}

/// The cgroup v2 folder the server is in, when a v2 hierarchy is mounted.
fn v2_dir(mounts: &str, own: &str) -> Option<PathBuf> {
    let path = own.lines().find_map(|l| l.strip_prefix("0::"))?;
    let (root, point) = mounts_of(mounts)
        .find(|m| m.fstype == "cgroup2")
        .map(|m| (m.root, m.point))?;
    Some(below(&point, &root, path))
}

/// The cgroup v1 folder the server is in for `controller`.
fn v1_dir(controller: &str, mounts: &str, own: &str) -> Result<PathBuf, String> {
    let mount = mounts_of(mounts)
        .find(|m| m.fstype == "cgroup" && m.options.split(',').any(|o| o == controller))
        .ok_or_else(|| "no cgroup v1 or v2 hierarchy offers it".to_string())?;
    // id:controllers:path
    let path = own
        .lines()
        .filter_map(|l| l.split_once(':').and_then(|(_, rest)| rest.split_once(':')))
        .find(|(controllers, _)| controllers.split(',').any(|c| c == controller))
        .map(|(_, path)| path)
        .ok_or_else(|| format!("{OWN_CGROUP} names no cgroup of it"))?;
    Ok(below(&mount.point, &mount.root, path))
}

/// Where `controller` can be used: the v2 hierarchy if it offers it (and
/// the server can enable it below its own cgroup), else its v1 hierarchy.
/// The server's folder is made there, after sweeping those of servers that
/// are gone.
fn place_of(controller: &str, v2: Option<&Path>, mounts: &str, own: &str) -> Result<Place, String> {
    // Whether a v2 file (`cgroup.controllers`, `cgroup.subtree_control`) lists it.
    let listed = |dir: &Path, file: &str| {
        std::fs::read_to_string(dir.join(file)).is_ok_and(|c| c.split_whitespace().any(|w| w == controller))
    };
    let place = match v2 {
        Some(dir) if listed(dir, "cgroup.controllers") => {
            // Children get the controller only if the server's cgroup
            // passes it down (cgroup.subtree_control).
            if !listed(dir, "cgroup.subtree_control") {
                write(dir, "cgroup.subtree_control", &format!("+{controller}")).map_err(|e| {
                    format!(
                        "cgroup v2 offers it but {} cannot pass it down ({e}); run the server in a cgroup \
                         of its own delegated to it (systemd: Delegate=yes)",
                        dir.display()
                    )
                })?;
            }
            Place {
                dir: dir.to_path_buf(),
                v2: true,
            }
        }
        _ => Place {
            dir: v1_dir(controller, mounts, own)?,
            v2: false,
        },
    };
    sweep(&place.dir);
    let ours = place.dir.join(format!("hearth-{}", std::process::id()));
    match std::fs::create_dir(&ours) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("cannot make {} ({e})", ours.display())),
    }
    if place.v2 {
        // Its steps get the controller too.
        write(&ours, "cgroup.subtree_control", &format!("+{controller}"))
            .map_err(|e| format!("cannot pass it down in {} ({e})", ours.display()))?;
    }
    Ok(Place { dir: ours, ..place })
}

/// Removes the empty folders (`hearth-<pid>`, and their steps') of servers
/// no longer running. A cgroup with processes cannot be removed: this
/// never takes one from a running job.
fn sweep(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix("hearth-")) else {
            continue;
        };
        let Ok(pid) = pid.parse::<i32>() else { continue };
        // SAFETY: kill(2) with signal 0 sends nothing; it asks whether pid exists.
        if pid == std::process::id() as i32 || unsafe { libc::kill(pid, 0) } == 0 {
            continue;
        }
        if let Ok(steps) = std::fs::read_dir(entry.path()) {
            for step in steps.flatten().filter(|s| s.path().is_dir()) {
                let _ = std::fs::remove_dir(step.path());
            }
        }
        if std::fs::remove_dir(entry.path()).is_ok() {
            tracing::info!("removed the cgroup {} of a server that is gone", entry.path().display());
        }
    }
}

/// One cgroup mount of `/proc/self/mountinfo`.
struct Mount {
    /// The folder of the hierarchy mounted there.
    root: String,
    point: PathBuf,
    fstype: String,
    /// Its super options (a v1 hierarchy's controllers among them).
    options: String,
}

fn mounts_of(mountinfo: &str) -> impl Iterator<Item = Mount> + '_ {
    mountinfo.lines().filter_map(|line| {
        // id parent major:minor root point options [optional…] - fstype source super
        let (before, after) = line.split_once(" - ")?;
        let fields: Vec<&str> = before.split(' ').collect();
        let mut rest = after.split(' ');
        let fstype = rest.next()?;
        let _source = rest.next()?;
        let options = rest.next().unwrap_or("");
        Some(Mount {
            root: unescape(fields.get(3)?),
            point: PathBuf::from(unescape(fields.get(4)?)),
            fstype: fstype.to_string(),
            options: options.to_string(),
        })
    })
}

/// mountinfo writes space, tab, newline and backslash as `\ooo`.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match (bytes[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The folder of cgroup `path` in a hierarchy whose folder `root` is
/// mounted at `point`.
fn below(point: &Path, root: &str, path: &str) -> PathBuf {
    let inside = match root {
        "/" => path,
        root => path.strip_prefix(root).unwrap_or(path),
    };
    point.join(inside.trim_start_matches('/'))
}

fn write(dir: &Path, file: &str, value: &str) -> std::io::Result<()> {
    std::fs::write(dir.join(file), value)
}

/// The number after `key` in a flat-keyed cgroup file (`key value` lines).
fn counter(file: &Path, key: &str) -> u64 {
    std::fs::read_to_string(file)
        .ok()
        .and_then(|text| {
            text.lines().find_map(|l| {
                let (k, v) = l.split_once(' ')?;
                (k == key).then(|| v.trim().parse().ok()).flatten()
            })
        })
        .unwrap_or(0)
}

fn c_path(path: &Path) -> std::io::Result<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(path.as_os_str().as_bytes()).map_err(std::io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 /outer /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified\\040dir rw,relatime shared:9 - cgroup2 cgroup2 rw
";
    const OWN: &str = "8:pids:/outer/box\n4:memory:/api/5e83\n0::/svc\n";

    #[test]
    fn hierarchies_and_the_server_s_place_in_them() {
        let v2 = v2_dir(MOUNTINFO, OWN).unwrap();
        assert_eq!(v2, Path::new("/sys/fs/cgroup/unified dir/svc"));
        let memory = v1_dir("memory", MOUNTINFO, OWN).unwrap();
        assert_eq!(memory, Path::new("/sys/fs/cgroup/memory/api/5e83"));
        // A mount of part of a hierarchy (a container's): the path is below its root.
        let pids = v1_dir("pids", MOUNTINFO, OWN).unwrap();
        assert_eq!(pids, Path::new("/sys/fs/cgroup/pids/box"));
        assert!(v1_dir("cpu", MOUNTINFO, OWN).is_err(), "not mounted");
    }

    #[test]
    fn counters_of_flat_keyed_files() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("memory.events");
        std::fs::write(&file, "low 0\nhigh 0\nmax 12\noom 2\noom_kill 3\n").unwrap();
        assert_eq!(counter(&file, "oom_kill"), 3);
        assert_eq!(counter(&file, "max"), 12);
        assert_eq!(counter(&file, "absent"), 0);
        assert_eq!(counter(&dir.path().join("missing"), "max"), 0);
    }
}
