//! GitHub's shapes of Hearth's objects: users, repositories, issues,
//! comments, runs, jobs, deployments, releases, as GitHub's webhook
//! payloads and REST answers spell them (every `*_url` its clients follow),
//! so receivers and clients written for GitHub read them unchanged. One
//! owner of each shape: webhooks and the API both build them here.
//!
//! Checked against GitHub's published webhook schemas
//! (`@octokit/webhooks-schemas`) by `tests/webhooks.rs`.

mod issues;
mod pulls;
mod repos;
mod runs;
mod site;

pub use issues::*;
pub use pulls::*;
pub use repos::*;
pub use runs::*;
pub use site::*;
