//! Reading repositories with gix for the pages: refs, trees, blobs, history
//! and the diff of a commit. Pure reads, no `git` processes; everything here
//! is blocking and runs on the blocking pool. Paths are `/`-separated and
//! relative to the repository root, without a leading slash.

use gix::ObjectId;
use gix::bstr::ByteSlice;
use gix::diff::blob::unified_diff::{ConsumeHunk, ContextSize, DiffLineKind, HunkHeader};
use gix::diff::blob::{Algorithm, Diff, InternedInput, UnifiedDiff};

use crate::error::{Context, Result};

/// A branch or tag and the commit it points to.
#[derive(Debug, Clone)]
pub struct RefEntry {
    /// Short name: `main`, `feature/login`, `v1.0`.
    pub name: String,
    pub is_tag: bool,
    pub commit: ObjectId,
}

/// Branches and tags, each peeled to its commit; tags of other objects are left out.
pub fn refs(repo: &gix::Repository) -> Result<Vec<RefEntry>> {
    let platform = repo.references().context("reading refs")?;
    let mut out = Vec::new();
    for r in platform.all().context("reading refs")? {
        let Ok(mut r) = r else { continue };
        let full = r.name().as_bstr().to_string();
        let (name, is_tag) = if let Some(n) = full.strip_prefix("refs/heads/") {
            (n.to_string(), false)
        } else if let Some(n) = full.strip_prefix("refs/tags/") {
            (n.to_string(), true)
        } else {
            continue;
        };
        let Ok(id) = r.peel_to_id() else { continue };
        let is_commit = repo
            .find_header(id.detach())
            .is_ok_and(|h| h.kind() == gix::object::Kind::Commit);
        if is_commit {
            out.push(RefEntry {
                name,
                is_tag,
                commit: id.detach(),
            });
        }
    }
    Ok(out)
}

/// What a `{ref}/{path}` URL tail names: the longest leading part that is a
/// branch (then a tag) wins, else the first segment may be a commit id.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// As written in URLs: the branch or tag name, or the commit id given.
    pub rev: String,
    pub commit: ObjectId,
    /// Whether `rev` was a commit id, so pages are immutable.
    pub by_id: bool,
    pub path: String,
}

pub fn resolve(repo: &gix::Repository, refs: &[RefEntry], tail: &str) -> Result<Option<Resolved>> {
    let tail = tail.trim_matches('/');
    let segments: Vec<&str> = tail.split('/').collect();
    for n in (1..=segments.len()).rev() {
        let candidate = segments[..n].join("/");
        let hit = refs
            .iter()
            .find(|r| !r.is_tag && r.name == candidate)
            .or_else(|| refs.iter().find(|r| r.is_tag && r.name == candidate));
        if let Some(r) = hit {
            return Ok(Some(Resolved {
                rev: r.name.clone(),
                commit: r.commit,
                by_id: false,
                path: segments[n..].join("/"),
            }));
        }
    }
    let first = segments[0];
    match commit_by_hex(repo, first)? {
        Some(commit) => Ok(Some(Resolved {
            rev: first.to_string(),
            commit,
            by_id: true,
            path: segments[1..].join("/"),
        })),
        None => Ok(None),
    }
}

/// A full or abbreviated (4 to 40 hex digits) commit id, if it names a commit.
pub fn commit_by_hex(repo: &gix::Repository, hex: &str) -> Result<Option<ObjectId>> {
    if !(4..=40).contains(&hex.len()) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let Ok(id) = repo.rev_parse_single(hex) else {
        return Ok(None);
    };
    let Ok(object) = id.object() else { return Ok(None) };
    Ok(object.peel_to_commit().ok().map(|c| c.id))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EntryKind {
    Dir,
    Submodule,
    File,
    Symlink,
}

#[derive(Debug, Clone)]
pub struct TreeEntry {
    pub name: String,
    pub kind: EntryKind,
    /// Size in bytes, for files and links.
    pub size: Option<u64>,
    pub id: ObjectId,
}

/// What is at `path` in a commit.
pub enum Found {
    Dir(Vec<TreeEntry>),
    File { id: ObjectId, size: u64, kind: EntryKind },
}

/// Looks `path` up in `commit`'s tree. Directories come back listed, folders first.
pub fn lookup(repo: &gix::Repository, commit: ObjectId, path: &str) -> Result<Option<Found>> {
    let commit = repo.find_commit(commit).context("reading a commit")?;
    let root = commit.tree().context("reading a tree")?;
    let tree = if path.is_empty() {
        root
    } else {
        let Some(entry) = root.lookup_entry_by_path(path).context("looking up a path")? else {
            return Ok(None);
        };
        let mode = entry.mode();
        if !mode.is_tree() {
            let id = entry.object_id();
            let kind = if mode.is_link() {
                EntryKind::Symlink
            } else if mode.is_commit() {
                return Ok(None);
            } else {
                EntryKind::File
            };
            let size = repo.find_header(id).context("reading a blob")?.size();
            return Ok(Some(Found::File { id, size, kind }));
        }
        repo.find_tree(entry.object_id()).context("reading a tree")?
    };
    let mut entries = Vec::new();
    for entry in tree.iter() {
        let entry = entry.context("reading a tree entry")?;
        let mode = entry.mode();
        let kind = if mode.is_tree() {
            EntryKind::Dir
        } else if mode.is_commit() {
            EntryKind::Submodule
        } else if mode.is_link() {
            EntryKind::Symlink
        } else {
            EntryKind::File
        };
        let id = entry.object_id();
        let size = match kind {
            EntryKind::File | EntryKind::Symlink => repo.find_header(id).ok().map(|h| h.size()),
            _ => None,
        };
        entries.push(TreeEntry {
            name: entry.filename().to_str_lossy().into_owned(),
            kind,
            size,
            id,
        });
    }
    entries.sort_by(|a, b| {
        let dir = |k: EntryKind| !matches!(k, EntryKind::Dir);
        dir(a.kind)
            .cmp(&dir(b.kind))
            .then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase()))
    });
    Ok(Some(Found::Dir(entries)))
}

pub fn blob_data(repo: &gix::Repository, id: ObjectId) -> Result<Vec<u8>> {
    let mut blob = repo.find_blob(id).context("reading a blob")?;
    Ok(blob.take_data())
}

/// Git's own test: a NUL byte in the first 8000 bytes means binary.
pub fn is_binary(data: &[u8]) -> bool {
    data[..data.len().min(8000)].contains(&0)
}

#[derive(Debug, Clone)]
pub struct Person {
    pub name: String,
    pub email: String,
    pub time: i64,
}

#[derive(Debug, Clone)]
pub struct CommitInfo {
    pub id: ObjectId,
    pub parents: Vec<ObjectId>,
    pub author: Person,
    pub committer: Person,
    pub message: String,
}

impl CommitInfo {
    /// The first line of the message.
    pub fn summary(&self) -> &str {
        self.message.lines().next().unwrap_or("").trim()
    }

    /// The message after its first paragraph separator.
    pub fn body(&self) -> &str {
        match self.message.split_once('\n') {
            Some((_, rest)) => rest.trim_matches('\n'),
            None => "",
        }
    }
}

fn person(sig: gix::actor::SignatureRef<'_>) -> Person {
    Person {
        name: sig.name.trim().to_str_lossy().into_owned(),
        email: sig.email.trim().to_str_lossy().into_owned(),
        time: sig.time().map(|t| t.seconds).unwrap_or(0),
    }
}

pub fn commit_info(repo: &gix::Repository, id: ObjectId) -> Result<CommitInfo> {
    let commit = repo.find_commit(id).context("reading a commit")?;
    let decoded = commit.decode().context("decoding a commit")?;
    Ok(CommitInfo {
        id,
        parents: decoded.parents().collect(),
        author: person(decoded.author().context("reading an author")?),
        committer: person(decoded.committer().context("reading a committer")?),
        message: decoded.message.to_str_lossy().into_owned(),
    })
}

/// The id of what is at `path` in `commit`, if anything.
fn id_at(repo: &gix::Repository, commit: ObjectId, path: &str) -> Option<ObjectId> {
    let tree = repo.find_commit(commit).ok()?.tree().ok()?;
    if path.is_empty() {
        return Some(tree.id);
    }
    tree.lookup_entry_by_path(path).ok().flatten().map(|e| e.object_id())
}

/// A page of history from `start`, newest first: `limit` commits after
/// skipping `skip`, optionally only those that changed `path`. The flag says
/// whether there are more.
pub fn log(
    repo: &gix::Repository,
    start: ObjectId,
    path: &str,
    first_parent: bool,
    skip: usize,
    limit: usize,
) -> Result<(Vec<CommitInfo>, bool)> {
    let mut walk = repo
        .rev_walk([start])
        .sorting(gix::revision::walk::Sorting::ByCommitTime(Default::default()));
    if first_parent {
        walk = walk.first_parent_only();
    }
    let walk = walk.all().context("walking history")?;
    let mut out = Vec::with_capacity(limit);
    let mut seen = 0;
    for info in walk {
        let info = info.context("walking history")?;
        let id = info.id;
        if !path.is_empty() {
            let here = id_at(repo, id, path);
            let parent = info.parent_ids.first().and_then(|p| id_at(repo, *p, path));
            if here == parent {
                continue;
            }
        }
        if seen < skip {
            seen += 1;
            continue;
        }
        if out.len() == limit {
            return Ok((out, true));
        }
        out.push(commit_info(repo, id)?);
    }
    Ok((out, false))
}

/// The commits of history from `tip` (`tip` and its ancestors), at most
/// `limit` of them.
pub fn history(repo: &gix::Repository, tip: ObjectId, limit: usize) -> Result<std::collections::HashSet<ObjectId>> {
    let walk = repo.rev_walk([tip]).all().context("walking history")?;
    let mut seen = std::collections::HashSet::from([tip]);
    for info in walk.take(limit) {
        seen.insert(info.context("walking history")?.id);
    }
    Ok(seen)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Added,
    Deleted,
    Modified,
    Renamed,
    Copied,
}

impl Status {
    /// The word the pages show (and style by).
    pub fn word(self) -> &'static str {
        match self {
            Status::Added => "added",
            Status::Deleted => "deleted",
            Status::Modified => "modified",
            Status::Renamed => "renamed",
            Status::Copied => "copied",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    Context,
    Add,
    Remove,
}

impl LineKind {
    /// The class a diff line is styled by.
    pub fn css(self) -> &'static str {
        match self {
            LineKind::Context => "ctx",
            LineKind::Add => "add",
            LineKind::Remove => "del",
        }
    }

    /// The sign a unified diff starts the line with.
    pub fn sign(self) -> char {
        match self {
            LineKind::Context => ' ',
            LineKind::Add => '+',
            LineKind::Remove => '-',
        }
    }
}

#[derive(Debug, Clone)]
pub struct Line {
    pub kind: LineKind,
    pub old_no: Option<u32>,
    pub new_no: Option<u32>,
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct Hunk {
    pub header: String,
    pub lines: Vec<Line>,
}

#[derive(Debug, Clone)]
pub struct FileDiff {
    pub old_path: String,
    pub new_path: String,
    pub status: Status,
    pub old_id: Option<ObjectId>,
    pub new_id: Option<ObjectId>,
    pub old_mode: Option<u32>,
    pub new_mode: Option<u32>,
    pub additions: usize,
    pub deletions: usize,
    pub binary: bool,
    /// Shown only as a notice: the file's diff was over the per-file limit.
    pub too_large: bool,
    pub hunks: Vec<Hunk>,
}

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Files whose hunks are shown; the rest are listed without them.
    pub max_files: usize,
    /// Diff lines of one file shown.
    pub max_file_lines: usize,
    /// Diff lines shown over the whole commit.
    pub max_total_lines: usize,
    /// Blobs larger than this are not diffed.
    pub max_blob_bytes: u64,
    /// Bytes of blobs compared over the whole diff; files past it (or past
    /// `max_files`) are listed without being read at all.
    pub max_total_bytes: u64,
}

#[derive(Debug, Clone)]
pub struct CommitDiff {
    pub files: Vec<FileDiff>,
    /// Some file diffs were left out by the limits.
    pub truncated: bool,
}

/// What `commit` changed against its first parent (or against nothing, for
/// a root commit), with renames detected.
pub fn diff(repo: &gix::Repository, commit: ObjectId, limits: Limits) -> Result<CommitDiff> {
    let c = repo.find_commit(commit).context("reading a commit")?;
    let parent = c.parent_ids().next().map(|p| p.detach());
    diff_between(repo, parent, commit, limits)
}

/// What changed from commit `old` (nothing, when `None`) to commit `new`:
/// a pull request's diff, from the merge base to the head.
pub fn diff_between(
    repo: &gix::Repository,
    old: Option<ObjectId>,
    new: ObjectId,
    limits: Limits,
) -> Result<CommitDiff> {
    let mut files = Vec::new();
    let truncated = diff_each(repo, old, new, limits, &mut |file| {
        files.push(file);
        true
    })?;
    Ok(CommitDiff { files, truncated })
}

/// What changed from commit `old` to commit `new`, one file at a time in
/// path order: each goes to `each` once it is diffed (and is not kept
/// here), until `each` says stop. Returns whether the limits left file
/// diffs out. A download streams this; the pages collect it.
pub fn diff_each(
    repo: &gix::Repository,
    old: Option<ObjectId>,
    new: ObjectId,
    limits: Limits,
    each: &mut dyn FnMut(FileDiff) -> bool,
) -> Result<bool> {
    let new_tree = repo.find_commit(new).and_then(|c| c.tree()).context("reading a tree")?;
    let old_tree = match old {
        Some(p) => repo
            .find_commit(p)
            .and_then(|p| p.tree())
            .context("reading the parent's tree")?,
        None => repo.empty_tree(),
    };
    let options = gix::diff::Options::default().with_rewrites(Some(Default::default()));
    let changes = repo
        .diff_tree_to_tree(&old_tree, &new_tree, options)
        .context("comparing trees")?;
    use gix::object::tree::diff::ChangeDetached as C;
    type Side = Option<(ObjectId, gix::object::tree::EntryMode)>;
    let mut listed: Vec<(Status, String, String, Side, Side)> = Vec::new();
    for change in changes {
        listed.push(match change {
            C::Addition {
                location,
                entry_mode,
                id,
                ..
            } => (
                Status::Added,
                location.to_string(),
                location.to_string(),
                None,
                Some((id, entry_mode)),
            ),
            C::Deletion {
                location,
                entry_mode,
                id,
                ..
            } => (
                Status::Deleted,
                location.to_string(),
                location.to_string(),
                Some((id, entry_mode)),
                None,
            ),
            C::Modification {
                location,
                previous_entry_mode,
                previous_id,
                entry_mode,
                id,
            } => (
                Status::Modified,
                location.to_string(),
                location.to_string(),
                Some((previous_id, previous_entry_mode)),
                Some((id, entry_mode)),
            ),
            C::Rewrite {
                source_location,
                source_entry_mode,
                source_id,
                entry_mode,
                id,
                location,
                copy,
                ..
            } => (
                if copy { Status::Copied } else { Status::Renamed },
                source_location.to_string(),
                location.to_string(),
                Some((source_id, source_entry_mode)),
                Some((id, entry_mode)),
            ),
        });
    }
    let is_tree = |m: &Side| m.is_some_and(|(_, m)| m.is_tree());
    listed.retain(|(_, _, _, old, new)| !is_tree(old) && !is_tree(new));
    listed.sort_by(|a, b| a.2.cmp(&b.2));
    let (mut total_lines, mut total_bytes, mut shown) = (0usize, 0u64, 0usize);
    let mut truncated = false;
    for (status, old_path, new_path, old, new) in listed {
        let mut file = FileDiff {
            old_path,
            new_path,
            status,
            old_id: old.map(|o| o.0),
            new_id: new.map(|n| n.0),
            old_mode: old.map(|o| o.1.value() as u32),
            new_mode: new.map(|n| n.1.value() as u32),
            additions: 0,
            deletions: 0,
            binary: false,
            too_large: false,
            hunks: Vec::new(),
        };
        let load = |side: Side| -> Result<Option<Vec<u8>>> {
            let Some((id, mode)) = side else {
                return Ok(Some(Vec::new()));
            };
            if mode.is_commit() {
                return Ok(Some(format!("Subproject commit {id}\n").into_bytes()));
            }
            if repo.find_header(id).context("reading a blob")?.size() > limits.max_blob_bytes {
                return Ok(None);
            }
            blob_data(repo, id).map(Some)
        };
        if shown >= limits.max_files || total_bytes >= limits.max_total_bytes {
            truncated = true;
            if !each(file) {
                break;
            }
            continue;
        }
        shown += 1;
        let (a, b) = (load(old)?, load(new)?);
        total_bytes += [&a, &b]
            .iter()
            .map(|x| x.as_ref().map_or(0, |x| x.len() as u64))
            .sum::<u64>();
        match (a, b) {
            (Some(a), Some(b)) if is_binary(&a) || is_binary(&b) => file.binary = true,
            (Some(a), Some(b)) => {
                let hunks = line_diff(&a, &b);
                file.additions = hunks
                    .iter()
                    .flat_map(|h| &h.lines)
                    .filter(|l| l.kind == LineKind::Add)
                    .count();
                file.deletions = hunks
                    .iter()
                    .flat_map(|h| &h.lines)
                    .filter(|l| l.kind == LineKind::Remove)
                    .count();
                let lines: usize = hunks.iter().map(|h| h.lines.len()).sum();
                if lines > limits.max_file_lines {
                    file.too_large = true;
                } else if total_lines + lines > limits.max_total_lines {
                    truncated = true;
                } else {
                    total_lines += lines;
                    file.hunks = hunks;
                }
            }
            _ => file.too_large = true,
        }
        if !each(file) {
            break;
        }
    }
    Ok(truncated)
}

/// Hunks of a line diff with three lines of context, as `git diff` shows them.
pub fn line_diff(old: &[u8], new: &[u8]) -> Vec<Hunk> {
    let (old, new) = (old.as_bstr().to_str_lossy(), new.as_bstr().to_str_lossy());
    let input = InternedInput::new(old.as_ref(), new.as_ref());
    let diff = Diff::compute(Algorithm::Histogram, &input);
    UnifiedDiff::new(&diff, &input, Collect(Vec::new()), ContextSize::symmetrical(3))
        .consume()
        .unwrap_or_default()
}

/// A hunk header's range as git writes it: `5`, `5,3`, or for an empty
/// range the line it follows, `4,0`.
fn range(start: u32, len: u32) -> String {
    match len {
        0 => format!("{},0", start.saturating_sub(1)),
        1 => start.to_string(),
        n => format!("{start},{n}"),
    }
}

struct Collect(Vec<Hunk>);

impl ConsumeHunk for Collect {
    type Out = Vec<Hunk>;

    fn consume_hunk(&mut self, header: HunkHeader, lines: &[(DiffLineKind, &[u8])]) -> std::io::Result<()> {
        let (mut old_no, mut new_no) = (header.before_hunk_start, header.after_hunk_start);
        let mut out = Vec::with_capacity(lines.len());
        for (kind, text) in lines {
            let text = text.to_str_lossy().trim_end_matches(['\n', '\r']).to_string();
            let (kind, old, new) = match kind {
                DiffLineKind::Context => (LineKind::Context, Some(old_no), Some(new_no)),
                DiffLineKind::Add => (LineKind::Add, None, Some(new_no)),
                DiffLineKind::Remove => (LineKind::Remove, Some(old_no), None),
            };
            old_no += u32::from(old.is_some());
            new_no += u32::from(new.is_some());
            out.push(Line {
                kind,
                old_no: old,
                new_no: new,
                text,
            });
        }
        self.0.push(Hunk {
            header: format!(
                "@@ -{} +{} @@",
                range(header.before_hunk_start, header.before_hunk_len),
                range(header.after_hunk_start, header.after_hunk_len)
            ),
            lines: out,
        });
        Ok(())
    }

    fn finish(self) -> Vec<Hunk> {
        self.0
    }
}

/// The commit's diff as `git diff` prints it (the body of `.diff` and `.patch`).
pub fn unified_text(diff: &CommitDiff) -> String {
    let mut out = String::new();
    for f in &diff.files {
        file_text(f, &mut out);
    }
    out
}

/// One file's part of `unified_text`, appended to `out`.
pub fn file_text(f: &FileDiff, out: &mut String) {
    let (a, b) = (&f.old_path, &f.new_path);
    out.push_str(&format!("diff --git a/{a} b/{b}\n"));
    match f.status {
        Status::Added => out.push_str(&format!("new file mode {:o}\n", f.new_mode.unwrap_or(0o100644))),
        Status::Deleted => out.push_str(&format!("deleted file mode {:o}\n", f.old_mode.unwrap_or(0o100644))),
        Status::Renamed => out.push_str(&format!("rename from {a}\nrename to {b}\n")),
        Status::Copied => out.push_str(&format!("copy from {a}\ncopy to {b}\n")),
        Status::Modified => {}
    }
    if f.binary {
        out.push_str(&format!("Binary files a/{a} and b/{b} differ\n"));
        return;
    }
    if f.hunks.is_empty() {
        return;
    }
    let from = if f.status == Status::Added {
        "/dev/null".to_string()
    } else {
        format!("a/{a}")
    };
    let to = if f.status == Status::Deleted {
        "/dev/null".to_string()
    } else {
        format!("b/{b}")
    };
    out.push_str(&format!("--- {from}\n+++ {to}\n"));
    for h in &f.hunks {
        out.push_str(&h.header);
        out.push('\n');
        for l in &h.lines {
            out.push(match l.kind {
                LineKind::Context => ' ',
                LineKind::Add => '+',
                LineKind::Remove => '-',
            });
            out.push_str(&l.text);
            out.push('\n');
        }
    }
}

/// The paths of the files that differ between the trees of commits `old`
/// and `new` (both sides of a rename); `None` when more than `cap` do.
pub fn changed_paths(repo: &gix::Repository, old: ObjectId, new: ObjectId, cap: usize) -> Result<Option<Vec<String>>> {
    let tree = |id: ObjectId| {
        repo.find_commit(id)
            .and_then(|c| c.tree())
            .with_context(|| format!("reading the tree of {id}"))
    };
    let (old_tree, new_tree) = (tree(old)?, tree(new)?);
    let changes = repo
        .diff_tree_to_tree(&old_tree, &new_tree, gix::diff::Options::default().with_rewrites(None))
        .context("comparing trees")?;
    use gix::object::tree::diff::ChangeDetached as C;
    let mut paths = Vec::new();
    for change in changes {
        let (location, mode) = match change {
            C::Addition {
                location, entry_mode, ..
            }
            | C::Deletion {
                location, entry_mode, ..
            }
            | C::Modification {
                location, entry_mode, ..
            } => (location, entry_mode),
            C::Rewrite {
                source_location,
                location,
                entry_mode,
                ..
            } => {
                paths.push(source_location.to_string());
                (location, entry_mode)
            }
        };
        if mode.is_tree() {
            continue;
        }
        paths.push(location.to_string());
        if paths.len() > cap {
            return Ok(None);
        }
    }
    Ok(Some(paths))
}
