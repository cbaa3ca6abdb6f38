//! Merging on the server, with gix: the test merge of a pull request, and
//! the three ways of landing one (a merge commit, a squash, a rebase).
//! Nothing here touches a work tree or an index; new objects go into the
//! repository's object database, and refs move only with `set_ref`, which
//! checks what a ref pointed at first.

use gix::ObjectId;
use gix::bstr::{BString, ByteSlice};
use gix::refs::transaction::PreviousValue;

use super::object_id as id;
use crate::error::{Context, Error, Result};

/// Commits a pull request may hold; a longer one is refused, not walked.
pub const MAX_COMMITS: usize = 250;

/// Who makes a commit, and when.
#[derive(Debug, Clone)]
pub struct Person {
    pub name: String,
    pub email: String,
    pub time: i64,
}

impl Person {
    pub fn signature(&self) -> gix::actor::Signature {
        gix::actor::Signature {
            name: self.name.as_str().into(),
            email: self.email.as_str().into(),
            time: gix::date::Time::new(self.time, 0),
        }
    }
}

/// What merging two trees gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Merged {
    Clean(ObjectId),
    /// The paths that conflict.
    Conflict(Vec<String>),
}

pub fn merge_base(repo: &gix::Repository, a: &str, b: &str) -> Result<Option<ObjectId>> {
    match repo.merge_base(id(a)?, id(b)?) {
        Ok(base) => Ok(base.map(|b| b.detach())),
        Err(_) => Ok(None),
    }
}

/// Whether `ancestor` is `descendant` or one of its ancestors.
pub fn is_ancestor(repo: &gix::Repository, ancestor: &str, descendant: &str) -> Result<bool> {
    if ancestor == descendant {
        return Ok(true);
    }
    let ancestor_id = id(ancestor)?;
    Ok(merge_base(repo, ancestor, descendant)? == Some(ancestor_id))
}

/// The commits on `head` that `base` lacks, oldest first; `None` when
/// there are more than `MAX_COMMITS`.
pub fn commits_between(repo: &gix::Repository, base: &str, head: &str) -> Result<Option<Vec<ObjectId>>> {
    let walk = repo
        .rev_walk([id(head)?])
        .with_hidden([id(base)?])
        .all()
        .context("walking the commits")?;
    let mut out = Vec::new();
    for info in walk {
        let info = info.context("walking the commits")?;
        out.push(info.id);
        if out.len() > MAX_COMMITS {
            return Ok(None);
        }
    }
    out.reverse();
    Ok(Some(out))
}

fn conflicts(outcome: &gix::merge::tree::Outcome<'_>) -> Vec<String> {
    let how = gix::merge::tree::TreatAsUnresolved::git();
    let mut paths: Vec<String> = outcome
        .conflicts
        .iter()
        .filter(|c| c.is_unresolved(how))
        .map(|c| c.ours.location().to_str_lossy().into_owned())
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

fn finish(mut outcome: gix::merge::tree::Outcome<'_>) -> Result<Merged> {
    let how = gix::merge::tree::TreatAsUnresolved::git();
    if outcome.has_unresolved_conflicts(how) {
        return Ok(Merged::Conflict(conflicts(&outcome)));
    }
    let tree = outcome.tree.write().context("writing the merged tree")?;
    Ok(Merged::Clean(tree.detach()))
}

fn labels() -> gix::merge::blob::builtin_driver::text::Labels<'static> {
    gix::merge::blob::builtin_driver::text::Labels {
        ancestor: None,
        current: Some("base".as_bytes().as_bstr()),
        other: Some("head".as_bytes().as_bstr()),
    }
}

/// Merges commit `theirs` into commit `ours`: the tree, or what conflicts.
pub fn merge_commits(repo: &gix::Repository, ours: &str, theirs: &str) -> Result<Merged> {
    let options = repo.tree_merge_options().context("merge options")?;
    let outcome = repo
        .merge_commits(id(ours)?, id(theirs)?, labels(), options.into())
        .context("merging")?;
    finish(outcome.tree_merge)
}

fn tree_of(repo: &gix::Repository, commit: ObjectId) -> Result<ObjectId> {
    Ok(repo
        .find_commit(commit)
        .context("reading a commit")?
        .tree_id()
        .context("reading a commit's tree")?
        .detach())
}

/// Writes a commit; returns its id.
pub fn write_commit(
    repo: &gix::Repository,
    tree: ObjectId,
    parents: &[ObjectId],
    author: &gix::actor::Signature,
    committer: &Person,
    message: &str,
) -> Result<ObjectId> {
    let commit = gix::objs::Commit {
        tree,
        parents: parents.iter().copied().collect(),
        author: author.clone(),
        committer: committer.signature(),
        encoding: None,
        message: BString::from(message),
        extra_headers: Vec::new(),
    };
    Ok(repo.write_object(&commit).context("writing a commit")?.detach())
}

/// A merge commit of `head` into `base`, by `who`.
pub fn merge_commit(repo: &gix::Repository, base: &str, head: &str, who: &Person, message: &str) -> Result<Merged> {
    Ok(match merge_commits(repo, base, head)? {
        Merged::Clean(tree) => Merged::Clean(write_commit(
            repo,
            tree,
            &[id(base)?, id(head)?],
            &who.signature(),
            who,
            message,
        )?),
        conflict => conflict,
    })
}

/// One commit on `base` with the changes of `head`, authored by the
/// pull request's first commit's author.
pub fn squash(repo: &gix::Repository, base: &str, head: &str, who: &Person, message: &str) -> Result<Merged> {
    let author = match commits_between(repo, base, head)?.and_then(|c| c.first().copied()) {
        Some(first) => signature_of(repo, first)?,
        None => who.signature(),
    };
    Ok(match merge_commits(repo, base, head)? {
        Merged::Clean(tree) => Merged::Clean(write_commit(repo, tree, &[id(base)?], &author, who, message)?),
        conflict => conflict,
    })
}

fn signature_of(repo: &gix::Repository, commit: ObjectId) -> Result<gix::actor::Signature> {
    let c = repo.find_commit(commit).context("reading a commit")?;
    let author = c.author().context("reading a commit's author")?;
    Ok(gix::actor::Signature {
        name: author.name.to_owned(),
        email: author.email.to_owned(),
        time: author.time().unwrap_or_else(|_| gix::date::Time::new(0, 0)),
    })
}

/// The commits of `head` that `base` lacks, replayed one by one on `base`
/// (their authors and messages kept, `who` the committer); a head that
/// contains `base` already is taken as it is (a fast-forward).
pub fn rebase(repo: &gix::Repository, base: &str, head: &str, who: &Person) -> Result<Merged> {
    if is_ancestor(repo, base, head)? {
        return Ok(Merged::Clean(id(head)?));
    }
    let commits = commits_between(repo, base, head)?
        .ok_or_else(|| Error::invalid(format!("this pull request has more than {MAX_COMMITS} commits")))?;
    let mut onto = id(base)?;
    for commit in commits {
        let c = repo.find_commit(commit).context("reading a commit")?;
        let parents: Vec<ObjectId> = c.parent_ids().map(|p| p.detach()).collect();
        if parents.len() > 1 {
            return Err(Error::invalid(format!(
                "commit {commit} is a merge commit; rebasing cannot replay it (merge or squash instead)"
            )));
        }
        let ancestor = match parents.first() {
            Some(p) => tree_of(repo, *p)?,
            None => ObjectId::empty_tree(repo.object_hash()),
        };
        let message = c.message_raw_sloppy().to_str_lossy().into_owned();
        let options = repo.tree_merge_options().context("merge options")?;
        let outcome = repo
            .merge_trees(
                ancestor,
                tree_of(repo, onto)?,
                tree_of(repo, commit)?,
                labels(),
                options,
            )
            .context("replaying a commit")?;
        let tree = match finish(outcome)? {
            Merged::Clean(tree) => tree,
            conflict => return Ok(conflict),
        };
        onto = write_commit(repo, tree, &[onto], &signature_of(repo, commit)?, who, &message)?;
    }
    Ok(Merged::Clean(onto))
}

/// Points `name` at `new`, if it points at `expected` still (`None`: it
/// must not exist; `Some(None)` in `expected`'s place is "whatever it is").
pub fn set_ref(repo: &gix::Repository, name: &str, new: ObjectId, expected: Expect) -> Result<()> {
    let constraint = match expected {
        Expect::Any => PreviousValue::Any,
        Expect::Missing => PreviousValue::MustNotExist,
        Expect::At(old) => PreviousValue::MustExistAndMatch(gix::refs::Target::Object(id(&old)?)),
    };
    repo.reference(name, new, constraint, "hearth")
        .map_err(|e| Error::WrongState(format!("{name} could not be updated: {e}")))?;
    Ok(())
}

/// What a ref must point at for `set_ref` or `delete_ref` to go ahead.
pub enum Expect {
    Any,
    Missing,
    At(String),
}

/// Deletes `name` if it points at `expected` (or whatever it points at).
pub fn delete_ref(repo: &gix::Repository, name: &str, expected: Expect) -> Result<()> {
    use gix::refs::transaction::{Change, RefEdit, RefLog};
    let expected = match expected {
        Expect::Any | Expect::Missing => PreviousValue::Any,
        Expect::At(old) => PreviousValue::MustExistAndMatch(gix::refs::Target::Object(id(&old)?)),
    };
    let name: gix::refs::FullName = name
        .try_into()
        .map_err(|e| Error::failed(format!("ref name {name:?}"), e))?;
    repo.edit_reference(RefEdit {
        change: Change::Delete {
            expected,
            log: RefLog::AndReference,
        },
        name,
        deref: false,
    })
    .map_err(|e| Error::WrongState(format!("the ref could not be deleted: {e}")))?;
    Ok(())
}
