-- Hearth schema, version 15: the job token (`GITHUB_TOKEN`): one per
-- running job, for its own repository only, with the scopes its
-- `permissions:` asked for, acting for the person who started the run.
-- Removed when the job ends (and all of them at start-up).

CREATE TABLE job_tokens (
    job_id      INTEGER PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE,
    token_hash  TEXT    NOT NULL UNIQUE,
    repo_id     INTEGER NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    permissions TEXT    NOT NULL,            -- JSON: scope -> read, write or none
    expires_at  INTEGER NOT NULL
);
