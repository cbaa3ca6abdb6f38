-- Hearth schema, version 18: commit statuses from outside systems
-- (GitHub's `POST /repos/{owner}/{repo}/statuses/{sha}`). A context's
-- latest status is what counts; every one is kept, as on GitHub.

CREATE TABLE commit_statuses (
    id          INTEGER PRIMARY KEY,
    repo_id     INTEGER NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    sha         TEXT    NOT NULL,
    state       TEXT    NOT NULL CHECK (state IN ('error', 'failure', 'pending', 'success')),
    context     TEXT    NOT NULL,
    description TEXT,
    target_url  TEXT,
    creator_id  INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX commit_statuses_by_sha ON commit_statuses(repo_id, sha, id);
