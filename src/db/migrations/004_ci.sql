-- Hearth schema, version 4: CI runs. A ref update is turned into runs once:
-- the runs are inserted in the same transaction that sets `ci_handled`.

ALTER TABLE ref_updates ADD COLUMN ci_handled INTEGER NOT NULL DEFAULT 0;
-- Updates recorded before CI existed are not run retroactively.
UPDATE ref_updates SET ci_handled = 1;
CREATE INDEX ref_updates_unhandled ON ref_updates(ci_handled) WHERE ci_handled = 0;

-- One workflow file run for one commit.
CREATE TABLE runs (
    id          INTEGER PRIMARY KEY,
    repo_id     INTEGER NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    run_number  INTEGER NOT NULL,            -- per repository, from 1
    workflow    TEXT    NOT NULL,            -- file path, e.g. .hearth/workflows/ci.yml
    name        TEXT    NOT NULL,            -- the workflow's name, or its file name
    event       TEXT    NOT NULL,            -- 'push'
    head_sha    TEXT    NOT NULL,
    head_branch TEXT    NOT NULL,
    ref_update_id INTEGER REFERENCES ref_updates(id),
    status      TEXT    NOT NULL CHECK (status IN ('queued', 'in_progress', 'completed')),
    conclusion  TEXT CHECK (conclusion IN ('success', 'failure', 'cancelled', 'skipped', 'timed_out')),
    error       TEXT,                        -- why the run failed before any job ran
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (repo_id, run_number)
);
CREATE INDEX runs_by_repo ON runs(repo_id, run_number DESC);

CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY,
    run_id       INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    job_key      TEXT    NOT NULL,           -- the id under `jobs:` in the workflow
    name         TEXT    NOT NULL,
    needs        TEXT    NOT NULL DEFAULT '', -- job keys, comma-separated
    spec         TEXT    NOT NULL,           -- the job as JSON, for the executor
    outputs      TEXT    NOT NULL DEFAULT '{}', -- the job's `outputs`, as JSON, once it ran
    status       TEXT    NOT NULL CHECK (status IN ('queued', 'in_progress', 'completed')),
    conclusion   TEXT CHECK (conclusion IN ('success', 'failure', 'cancelled', 'skipped', 'timed_out')),
    started_at   INTEGER,
    completed_at INTEGER
);
-- A job key appears once per instance of its matrix.
CREATE INDEX jobs_by_run ON jobs(run_id, job_key);
CREATE INDEX jobs_queued ON jobs(status) WHERE status != 'completed';

CREATE TABLE steps (
    job_id      INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    number      INTEGER NOT NULL,            -- from 1
    name        TEXT    NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('queued', 'in_progress', 'completed')),
    conclusion  TEXT CHECK (conclusion IN ('success', 'failure', 'cancelled', 'skipped', 'timed_out')),
    exit_code   INTEGER,
    started_at  INTEGER,
    completed_at INTEGER,
    PRIMARY KEY (job_id, number)
) WITHOUT ROWID;

-- A version of each repository's runs, bumped on every change to them, for
-- caches of pages that show run statuses (see issue_versions in 003).
CREATE TABLE ci_versions (
    repo_id INTEGER PRIMARY KEY REFERENCES repos(id) ON DELETE CASCADE,
    version INTEGER NOT NULL
);
CREATE TRIGGER runs_changed_insert AFTER INSERT ON runs BEGIN
    INSERT INTO ci_versions (repo_id, version) VALUES (NEW.repo_id, 1)
        ON CONFLICT (repo_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER runs_changed_update AFTER UPDATE ON runs BEGIN
    INSERT INTO ci_versions (repo_id, version) VALUES (NEW.repo_id, 1)
        ON CONFLICT (repo_id) DO UPDATE SET version = version + 1;
END;
CREATE INDEX runs_by_sha ON runs(repo_id, head_sha);
