//! The `annotations` table: what jobs' steps said with `::error::`,
//! `::warning::` and `::notice::`.

use rusqlite::{Connection, params};

use crate::error::Result;
use crate::ids::{JobId, RunId};
use crate::report::Annotation;

/// Messages and titles are cut here.
const MAX_TEXT: usize = 4096;

pub fn insert(conn: &Connection, run: RunId, job: JobId, list: &[Annotation]) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO annotations (run_id, job_id, level, message, title, file, line, end_line, col, end_col)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    let cut = |t: &str| t.chars().take(MAX_TEXT).collect::<String>();
    for a in list {
        stmt.execute(params![
            run,
            job,
            a.level,
            cut(&a.message),
            a.title.as_deref().map(cut),
            a.file.as_deref().map(cut),
            a.line,
            a.end_line,
            a.col,
            a.end_col
        ])?;
    }
    Ok(())
}

/// An annotation as the run's page shows it.
#[derive(Debug, Clone)]
pub struct Stored {
    pub job_id: JobId,
    pub level: String,
    pub message: String,
    pub title: Option<String>,
    pub file: Option<String>,
    pub line: Option<u32>,
}

/// The annotations of run `run`, errors first, then in the order made.
pub fn for_run(conn: &Connection, run: RunId) -> Result<Vec<Stored>> {
    let mut stmt = conn.prepare_cached(
        "SELECT job_id, level, message, title, file, line FROM annotations WHERE run_id = ?1
         ORDER BY CASE level WHEN 'error' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, id",
    )?;
    let rows = stmt.query_map([run], |r| {
        Ok(Stored {
            job_id: r.get(0)?,
            level: r.get(1)?,
            message: r.get(2)?,
            title: r.get(3)?,
            file: r.get(4)?,
            line: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
