//! The typed ids and numbers of users, repositories, runs, jobs and issues: stored, sent and
//! shown as their integers, but never taken for one another. The API
//! speaks ids, the pages numbers. A leaf: the database stores them, the
//! data directory names files after them.

/// One kind of id: a newtype of `i64` with what storing and showing it needs.
#[macro_export]
macro_rules! integer_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::num::ParseIntError;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                text.parse().map($name)
            }
        }

        impl rusqlite::ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
                self.0.to_sql()
            }
        }

        impl rusqlite::types::FromSql for $name {
            fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
                i64::column_result(value).map($name)
            }
        }
    };
}
pub use integer_id;

integer_id!(
    /// A user's id: unique in the server.
    UserId
);
integer_id!(
    /// A repository's id: unique in the server.
    RepoId
);
integer_id!(
    /// A run's id: unique in the server (the API's `run_id`).
    RunId
);
integer_id!(
    /// A run's number: 1, 2… in its repository (the pages' `/runs/{n}`).
    RunNumber
);
integer_id!(
    /// A job's id: unique in the server.
    JobId
);
integer_id!(
    /// An issue's id: unique in the server.
    IssueId
);
integer_id!(
    /// An issue's number: 1, 2… in its repository (`#12`, `/issues/12`).
    IssueNumber
);
