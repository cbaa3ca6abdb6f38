//! The code pages of a repository, read with gix: home, tree, blob, raw,
//! history, a commit and its diff, branches and tags. The expensive part of
//! each page (listing, highlighting, diffing) is rendered once per commit
//! and kept in the `RepoCache`; the layout around it is rendered per request.
//! Pages reached by a commit id never change: they carry a strong ETag.

mod blob;
pub(crate) mod commit;
mod commits;
mod page;
mod refs;
mod rev;
pub(crate) mod tree;

pub use page::*;
pub use rev::*;

use axum::Router;
use axum::routing::get;

use super::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/{owner}/{repo}", get(tree::home))
        .route("/{owner}/{repo}/tree/{*rest}", get(tree::handle))
        .route("/{owner}/{repo}/blob/{*rest}", get(blob::handle))
        .route("/{owner}/{repo}/raw/{*rest}", get(blob::raw))
        .route("/{owner}/{repo}/commits", get(commits::default_branch))
        .route("/{owner}/{repo}/commits/{*rest}", get(commits::handle))
        .route("/{owner}/{repo}/commit/{sha}", get(commit::handle))
        .route("/{owner}/{repo}/branches", get(refs::branches))
        .route("/{owner}/{repo}/tags", get(refs::tags))
}
