-- Hearth schema, version 9: environments, the gates before them, and the
-- deployments into them.

-- A run or job held at a gate is `waiting`. Widening a CHECK changes no
-- row on disk, so the tables' definitions are edited in place (SQLite's
-- documented way for such changes; `migrate` then bumps schema_version).
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
   SET sql = replace(sql, 'CHECK (status IN (''queued'', ''in_progress'', ''completed''))',
                          'CHECK (status IN (''queued'', ''waiting'', ''in_progress'', ''completed''))')
 WHERE type = 'table' AND name IN ('runs', 'jobs');
PRAGMA writable_schema = OFF;

-- Where a job deploys (`environment:`), made when a job first names it.
-- Names are GitHub's: case does not tell two apart.
CREATE TABLE environments (
    id         INTEGER PRIMARY KEY,
    repo_id    INTEGER NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    wait_timer INTEGER NOT NULL DEFAULT 0,   -- minutes a deployment waits before it starts
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (repo_id, name COLLATE NOCASE)
);

-- Who may let a deployment into the environment; none: nobody needs to.
CREATE TABLE environment_reviewers (
    environment_id INTEGER NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    user_id        INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (environment_id, user_id)
) WITHOUT ROWID;

-- The branches and tags (glob patterns) that may deploy; none: any may.
CREATE TABLE environment_branch_policies (
    id             INTEGER PRIMARY KEY,
    environment_id INTEGER NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    name           TEXT    NOT NULL,
    type           TEXT    NOT NULL CHECK (type IN ('branch', 'tag')),
    UNIQUE (environment_id, name, type)
);

-- One per deployment job: where it went, from which run and commit, and
-- how it ended (state: waiting, queued, in_progress, success, failure,
-- rejected, cancelled).
CREATE TABLE deployments (
    id             INTEGER PRIMARY KEY,
    repo_id        INTEGER NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    environment_id INTEGER NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    run_id         INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    job_id         INTEGER NOT NULL UNIQUE REFERENCES jobs(id) ON DELETE CASCADE,
    sha            TEXT    NOT NULL,
    ref            TEXT    NOT NULL,
    state          TEXT    NOT NULL,
    url            TEXT,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
CREATE INDEX deployments_by_environment ON deployments (environment_id, id);

-- Each change of a deployment's state, in order (GitHub's statuses).
CREATE TABLE deployment_statuses (
    id            INTEGER PRIMARY KEY,
    deployment_id INTEGER NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    state         TEXT    NOT NULL,
    description   TEXT    NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL
);

-- Who let a deployment through or stopped it, when and why.
CREATE TABLE deployment_reviews (
    id            INTEGER PRIMARY KEY,
    deployment_id INTEGER NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    user_id       INTEGER REFERENCES users(id) ON DELETE SET NULL,
    state         TEXT    NOT NULL CHECK (state IN ('approved', 'rejected')),
    comment       TEXT    NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL
);
