//! The `test_reports` and `test_failures` tables.

use rusqlite::{Connection, params};

use crate::error::Result;
use crate::ids::{JobId, RunId};
use crate::report::{Failed, Summary};

#[derive(Debug, Clone)]
pub struct Report {
    pub id: i64,
    pub job_id: JobId,
    pub name: String,
    pub kind: String,
    pub summary: Summary,
}

pub fn insert(conn: &Connection, run: RunId, job: JobId, name: &str, kind: &str, s: &Summary) -> Result<()> {
    conn.execute(
        "INSERT INTO test_reports (run_id, job_id, name, kind, tests, failures, errors, skipped, duration_ms, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            run,
            job,
            name,
            kind,
            s.tests as i64,
            s.failures as i64,
            s.errors as i64,
            s.skipped as i64,
            s.duration_ms as i64,
            crate::time::now()
        ],
    )?;
    let id = conn.last_insert_rowid();
    for (i, f) in s.failed.iter().enumerate() {
        conn.execute(
            "INSERT INTO test_failures (report_id, number, name, classname, message, output, error)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![id, i as i64, f.name, f.classname, f.message, f.output, f.error],
        )?;
    }
    Ok(())
}

/// The reports of run `run`, with their failures, in order.
pub fn for_run(conn: &Connection, run: RunId) -> Result<Vec<Report>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, job_id, name, kind, tests, failures, errors, skipped, duration_ms FROM test_reports
         WHERE run_id = ?1 ORDER BY id",
    )?;
    let mut reports: Vec<Report> = stmt
        .query_map([run], |r| {
            Ok(Report {
                id: r.get(0)?,
                job_id: r.get(1)?,
                name: r.get(2)?,
                kind: r.get(3)?,
                summary: Summary {
                    tests: r.get::<_, i64>(4)? as u64,
                    failures: r.get::<_, i64>(5)? as u64,
                    errors: r.get::<_, i64>(6)? as u64,
                    skipped: r.get::<_, i64>(7)? as u64,
                    duration_ms: r.get::<_, i64>(8)? as u64,
                    failed: Vec::new(),
                },
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut stmt = conn.prepare_cached(
        "SELECT name, classname, message, output, error FROM test_failures WHERE report_id = ?1 ORDER BY number",
    )?;
    for report in &mut reports {
        report.summary.failed = stmt
            .query_map([report.id], |r| {
                Ok(Failed {
                    name: r.get(0)?,
                    classname: r.get(1)?,
                    message: r.get(2)?,
                    output: r.get(3)?,
                    error: r.get(4)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
    }
    Ok(reports)
}

/// The totals (tests, failed or erred) of run `run`, if it has test reports.
pub fn totals_of_run(conn: &Connection, run: RunId) -> Result<Option<(u64, u64)>> {
    let row: (Option<i64>, Option<i64>) = conn
        .prepare_cached("SELECT SUM(tests), SUM(failures + errors) FROM test_reports WHERE run_id = ?1")?
        .query_row([run], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(match row {
        (Some(tests), Some(failed)) => Some((tests as u64, failed as u64)),
        _ => None,
    })
}

/// The totals (tests, failed or erred) of the newest run of commit `sha`
/// in `repo` that has test reports.
pub fn totals_of_commit(conn: &Connection, repo: crate::db::repos::RepoId, sha: &str) -> Result<Option<(u64, u64)>> {
    let row: (Option<i64>, Option<i64>) = conn
        .prepare_cached(
            "SELECT SUM(tests), SUM(failures + errors) FROM test_reports WHERE run_id = (
                 SELECT r.id FROM runs r INDEXED BY runs_by_sha WHERE r.repo_id = ?1 AND r.head_sha = ?2
                     AND EXISTS (SELECT 1 FROM test_reports t WHERE t.run_id = r.id)
                 ORDER BY r.run_number DESC LIMIT 1)",
        )?
        .query_row(params![repo.0, sha], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(match row {
        (Some(tests), Some(failed)) => Some((tests as u64, failed as u64)),
        _ => None,
    })
}
