//! The one error type of Hearth. Every layer returns `Error`; `web::error`
//! is the single place that turns it into an HTTP status and a message.
//! Messages of the user-facing variants are shown to people as they are, so
//! they are written as sentences; the causes of `Db`, `Io` and `Internal`
//! go to the log only.

use std::fmt;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Nothing here, or nothing this person may see (private repositories
    /// answer exactly like missing ones).
    #[error("not found")]
    NotFound,
    /// The request itself is wrong; the message says how.
    #[error("{0}")]
    BadRequest(String),
    /// Credentials are missing or wrong. Browsers are sent to the sign-in
    /// form, git clients are asked for credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// Signed in, but not allowed to do this.
    #[error("{0}")]
    Forbidden(String),
    /// The thing already exists or the state does not allow it.
    #[error("{0}")]
    Conflict(String),
    /// The request body is over a limit.
    #[error("{0}")]
    TooLarge(String),
    /// Too many attempts (failed sign-ins): wait `retry_after` seconds.
    #[error("{message}")]
    TooManyRequests { message: String, retry_after: u64 },
    #[error("database error: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Internal(String),
}

/// Runs blocking work (disk, git, hashing) on tokio's blocking threads;
/// `what` names it in the error should the task itself fail.
pub async fn blocking<T: Send + 'static>(what: &'static str, work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::internal(format!("{what}: {e}")))
}

impl Error {
    pub fn bad_request(msg: impl fmt::Display) -> Self {
        Error::BadRequest(msg.to_string())
    }

    pub fn internal(msg: impl fmt::Display) -> Self {
        Error::Internal(msg.to_string())
    }
}
