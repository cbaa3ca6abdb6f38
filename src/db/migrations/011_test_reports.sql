-- Hearth schema, version 11: test reports a job handed over
-- (`uses: hearth/test-report`): totals, and the tests that failed.

CREATE TABLE test_reports (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    job_id      INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN ('unit', 'functional', 'security')),
    tests       INTEGER NOT NULL,
    failures    INTEGER NOT NULL,
    errors      INTEGER NOT NULL,
    skipped     INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX test_reports_by_run ON test_reports (run_id);

CREATE TABLE test_failures (
    report_id INTEGER NOT NULL REFERENCES test_reports(id) ON DELETE CASCADE,
    number    INTEGER NOT NULL,
    name      TEXT    NOT NULL,
    classname TEXT    NOT NULL,
    message   TEXT    NOT NULL,
    output    TEXT    NOT NULL,
    error     INTEGER NOT NULL,
    PRIMARY KEY (report_id, number)
) WITHOUT ROWID;
