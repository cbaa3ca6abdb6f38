//! States and the rules of how they change, typed: a run's, a job's and
//! a step's status and conclusion (`run`), a deployment's, a rolling
//! target's and a gate's (`deployment`). Pure: no I/O. `db` stores these
//! types, `ci`, `delivery` and the pages ask the rules; a leaf module that
//! needs nothing of the crate but the ids.

/// Stored as their GitHub names; a name the rules do not know is a
/// corrupt row, and reading it fails.
macro_rules! stored_as_text {
    ($t:ty) => {
        impl rusqlite::ToSql for $t {
            fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
                Ok(self.as_str().into())
            }
        }

        impl rusqlite::types::FromSql for $t {
            fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
                let text = value.as_str()?;
                <$t>::parse(text).ok_or_else(|| {
                    rusqlite::types::FromSqlError::Other(format!("{text:?} is not a {}", stringify!($t)).into())
                })
            }
        }

        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

mod deployment;
mod run;

pub use deployment::*;
pub use run::*;
