-- Hearth schema, version 16: pull requests, reviews and protected branches.
-- A pull request is an issue (it shares the numbers, the conversation,
-- labels, assignees and milestone) with a `pull_requests` row beside it.

ALTER TABLE issues ADD COLUMN is_pull INTEGER NOT NULL DEFAULT 0;
CREATE INDEX issues_by_kind ON issues(repo_id, is_pull, state, number);

CREATE TABLE pull_requests (
    issue_id     INTEGER PRIMARY KEY REFERENCES issues(id) ON DELETE CASCADE,
    repo_id      INTEGER NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    number       INTEGER NOT NULL,
    head_ref     TEXT    NOT NULL,           -- branch names, without refs/heads/
    base_ref     TEXT    NOT NULL,
    head_sha     TEXT    NOT NULL,           -- the tips when last looked at
    base_sha     TEXT    NOT NULL,
    merge_base   TEXT,
    -- 'unknown' until the test merge is made, then 'clean' or 'conflict'
    mergeable    TEXT    NOT NULL DEFAULT 'unknown' CHECK (mergeable IN ('unknown', 'clean', 'conflict')),
    merge_sha    TEXT,                       -- the test merge (refs/pull/N/merge), when clean
    conflicts    TEXT    NOT NULL DEFAULT '', -- conflicting paths, one per line
    draft        INTEGER NOT NULL DEFAULT 0,
    merged_at    INTEGER,
    merged_by    INTEGER REFERENCES users(id),
    merge_commit_sha TEXT,
    merge_method TEXT CHECK (merge_method IN ('merge', 'squash', 'rebase')),
    UNIQUE (repo_id, number)
);
CREATE INDEX pull_requests_by_head ON pull_requests(repo_id, head_ref);
CREATE INDEX pull_requests_by_base ON pull_requests(repo_id, base_ref);

-- What happened to a pull request that may start workflows (`on:
-- pull_request`): handled once, like ref updates, in the transaction that
-- makes its runs.
CREATE TABLE pull_events (
    id          INTEGER PRIMARY KEY,
    repo_id     INTEGER NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    issue_id    INTEGER NOT NULL REFERENCES issues(id) ON DELETE CASCADE,
    action      TEXT    NOT NULL,            -- opened, synchronize, reopened, closed, ...
    head_sha    TEXT    NOT NULL,
    merge_sha   TEXT,                        -- the test merge the runs check out
    actor_id    INTEGER REFERENCES users(id),
    created_at  INTEGER NOT NULL,
    ci_handled  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX pull_events_unhandled ON pull_events(ci_handled) WHERE ci_handled = 0;

-- Runs of a pull request: which one, its head then, and the event payload.
ALTER TABLE runs ADD COLUMN pull_number INTEGER;
ALTER TABLE runs ADD COLUMN pull_head_sha TEXT;
ALTER TABLE runs ADD COLUMN event_payload TEXT NOT NULL DEFAULT '{}';
CREATE INDEX runs_by_pull ON runs(repo_id, pull_number) WHERE pull_number IS NOT NULL;

CREATE TABLE reviews (
    id           INTEGER PRIMARY KEY,
    issue_id     INTEGER NOT NULL REFERENCES issues(id) ON DELETE CASCADE,
    author_id    INTEGER NOT NULL REFERENCES users(id),
    state        TEXT    NOT NULL CHECK (state IN ('APPROVED', 'CHANGES_REQUESTED', 'COMMENTED', 'DISMISSED')),
    body         TEXT    NOT NULL DEFAULT '',
    commit_id    TEXT    NOT NULL,           -- the head it reviewed
    submitted_at INTEGER NOT NULL
);
CREATE INDEX reviews_by_pull ON reviews(issue_id, id);

-- A comment on one line of the diff, anchored to a commit: `line` of the
-- file's new (RIGHT) or old (LEFT) side. `blob_id` is the file there; when
-- the head's file differs from it, the comment is outdated.
CREATE TABLE review_comments (
    id          INTEGER PRIMARY KEY,
    issue_id    INTEGER NOT NULL REFERENCES issues(id) ON DELETE CASCADE,
    review_id   INTEGER REFERENCES reviews(id) ON DELETE CASCADE,
    author_id   INTEGER NOT NULL REFERENCES users(id),
    path        TEXT    NOT NULL,
    line        INTEGER NOT NULL,
    side        TEXT    NOT NULL CHECK (side IN ('LEFT', 'RIGHT')),
    commit_id   TEXT    NOT NULL,
    blob_id     TEXT    NOT NULL,
    diff_hunk   TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    in_reply_to INTEGER REFERENCES review_comments(id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX review_comments_by_pull ON review_comments(issue_id, id);

CREATE TABLE review_requests (
    issue_id INTEGER NOT NULL REFERENCES issues(id) ON DELETE CASCADE,
    user_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (issue_id, user_id)
) WITHOUT ROWID;

-- Which ways of merging a repository allows.
CREATE TABLE merge_settings (
    repo_id            INTEGER PRIMARY KEY REFERENCES repos(id) ON DELETE CASCADE,
    allow_merge_commit INTEGER NOT NULL DEFAULT 1,
    allow_squash       INTEGER NOT NULL DEFAULT 1,
    allow_rebase       INTEGER NOT NULL DEFAULT 1,
    delete_branch      INTEGER NOT NULL DEFAULT 0 -- delete the head branch after a merge
);

-- A protected branch rule; `pattern` is a branch name or a glob (`release/*`).
-- The flags follow GitHub's branch protection: a NULL-able part of GitHub's
-- shape (required checks, reviews, restrictions) is off when its flag is 0.
CREATE TABLE branch_protections (
    id                 INTEGER PRIMARY KEY,
    repo_id            INTEGER NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    pattern            TEXT    NOT NULL,
    require_checks     INTEGER NOT NULL DEFAULT 0,
    required_checks    TEXT    NOT NULL DEFAULT '', -- job names, one per line
    strict             INTEGER NOT NULL DEFAULT 0,  -- the head must contain the base tip
    require_reviews    INTEGER NOT NULL DEFAULT 0,  -- changes only through pull requests
    required_approvals INTEGER NOT NULL DEFAULT 0,
    dismiss_stale      INTEGER NOT NULL DEFAULT 0,
    restrict_pushes    INTEGER NOT NULL DEFAULT 0,  -- only the 'push' users may push or merge
    enforce_admins     INTEGER NOT NULL DEFAULT 0,
    allow_force_pushes INTEGER NOT NULL DEFAULT 0,
    allow_deletions    INTEGER NOT NULL DEFAULT 0,
    created_at         INTEGER NOT NULL,
    UNIQUE (repo_id, pattern)
);
-- 'push': may push or merge where pushes are restricted; 'bypass': may push
-- directly where changes must go through pull requests.
CREATE TABLE protection_users (
    protection_id INTEGER NOT NULL REFERENCES branch_protections(id) ON DELETE CASCADE,
    kind          TEXT    NOT NULL CHECK (kind IN ('push', 'bypass')),
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (protection_id, kind, user_id)
) WITHOUT ROWID;
