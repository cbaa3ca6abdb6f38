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
    /// What was asked for breaks a rule; the message says which and how to
    /// do it right.
    #[error("{0}")]
    Invalid(String),
    /// Who is asking is not known: credentials are missing or wrong.
    /// Browsers are sent to the sign-in form, git clients asked for
    /// credentials.
    #[error("{0}")]
    Unauthenticated(String),
    /// Known, but not allowed to do this.
    #[error("{0}")]
    Forbidden(String),
    /// A name that must be unique is taken.
    #[error("{0}")]
    Exists(String),
    /// The thing is in a state that does not allow this now (a run still
    /// going cannot be started again).
    #[error("{0}")]
    WrongState(String),
    /// Well-formed, but not something that can be done with these values
    /// (a pull request from a branch into itself): GitHub's 422.
    #[error("{0}")]
    Unprocessable(String),
    /// A pull request that cannot be merged now: closed, conflicting, or
    /// waiting for a review or a check (GitHub's 405).
    #[error("{0}")]
    NotMergeable(String),
    /// Over a size limit.
    #[error("{0}")]
    TooLarge(String),
    /// Too many attempts (failed sign-ins): wait `retry_after` seconds.
    #[error("{message}")]
    TooManyAttempts { message: String, retry_after: u64 },
    /// Too busy for this now (too many large downloads at once, or the
    /// database locked by another program): try again in `retry_after`
    /// seconds.
    #[error("{message}")]
    Busy { message: String, retry_after: u64 },
    #[error("database error: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// Something the server relies on failed (git, the random source, the
    /// key file…): what it was doing, and the cause, kept as the source.
    #[error("{what}: {cause}")]
    Failed {
        what: String,
        #[source]
        cause: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The server found itself in a state it should never be in.
    #[error("{0}")]
    Internal(String),
}

/// `.context("reading the index")` on any result: a failure becomes
/// `Error::Failed` that says what was being done and keeps the cause.
pub trait Context<T> {
    fn context(self, what: impl Into<String>) -> Result<T>;
    fn with_context(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: std::error::Error + Send + Sync + 'static> Context<T> for std::result::Result<T, E> {
    fn context(self, what: impl Into<String>) -> Result<T> {
        self.map_err(|e| Error::failed(what, e))
    }

    fn with_context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::failed(what(), e))
    }
}

/// Runs blocking work (disk, git, hashing) on tokio's blocking threads;
/// `what` names it in the error should the task itself fail.
pub async fn blocking<T: Send + 'static>(what: &'static str, work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(work).await.context(what)
}

impl Error {
    pub fn invalid(msg: impl fmt::Display) -> Self {
        Error::Invalid(msg.to_string())
    }

    pub fn failed(what: impl Into<String>, cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Failed {
            what: what.into(),
            cause: Box::new(cause),
        }
    }

    pub fn internal(msg: impl fmt::Display) -> Self {
        Error::Internal(msg.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_says_what_was_done_and_keeps_the_cause() {
        let read: std::result::Result<(), std::io::Error> =
            Err(std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied"));
        let e = read.context("reading the key").unwrap_err();
        assert_eq!(e.to_string(), "reading the key: denied");
        let cause = std::error::Error::source(&e).expect("the cause is kept");
        assert_eq!(cause.to_string(), "denied");
        assert!(matches!(e, Error::Failed { .. }));
    }
}
