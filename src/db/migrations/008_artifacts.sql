-- Hearth schema, version 8: artifacts of runs and caches of repositories.
-- Their contents are .tar.gz files stored once by content, as
-- data/artifacts/{sha256}; these rows name them.

CREATE TABLE artifacts (
    id         INTEGER PRIMARY KEY,
    run_id     INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    job_id     INTEGER REFERENCES jobs(id) ON DELETE SET NULL,  -- the job that uploaded it
    name       TEXT    NOT NULL,
    sha256     TEXT    NOT NULL,
    size       INTEGER NOT NULL,             -- bytes of the .tar.gz
    files      INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (run_id, name)
);

-- `actions/cache`: saved once per key (a key's contents never change).
CREATE TABLE caches (
    repo_id    INTEGER NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    key        TEXT    NOT NULL,
    sha256     TEXT    NOT NULL,
    size       INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (repo_id, key)
) WITHOUT ROWID;
