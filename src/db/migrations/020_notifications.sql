-- Hearth schema, version 20: notifications and watched repositories.
-- A notification is a thread, as on GitHub: one per person and subject (an
-- issue, a pull request, a run); new activity on the subject brings its
-- thread back as unread with the newest reason. Threads are written in the
-- transaction of what they tell of.

CREATE TABLE notifications (
    id             INTEGER PRIMARY KEY,
    user_id        INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    repo_id        INTEGER NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    -- GitHub's subject types: 'Issue', 'PullRequest', 'CheckSuite' (a run).
    subject_type   TEXT    NOT NULL CHECK (subject_type IN ('Issue', 'PullRequest', 'CheckSuite')),
    subject_id     INTEGER NOT NULL,          -- the issue's or the run's row
    subject_number INTEGER NOT NULL,          -- its number in the repository, for links
    title          TEXT    NOT NULL,
    reason         TEXT    NOT NULL,          -- GitHub's: assign, mention, ci_activity, ...
    detail         TEXT    NOT NULL DEFAULT '',  -- what happened, in a sentence
    actor_id       INTEGER REFERENCES users(id) ON DELETE SET NULL,
    unread         INTEGER NOT NULL DEFAULT 1,
    updated_at     INTEGER NOT NULL,
    last_read_at   INTEGER,
    -- 'pending' while an e-mail of the newest activity is to be sent.
    email          TEXT    NOT NULL DEFAULT 'none' CHECK (email IN ('none', 'pending', 'sent', 'failed')),
    email_attempts INTEGER NOT NULL DEFAULT 0,
    email_next_at  INTEGER,
    UNIQUE (user_id, subject_type, subject_id)
);
CREATE INDEX notifications_by_user ON notifications(user_id, updated_at DESC);
CREATE INDEX notifications_unread ON notifications(user_id) WHERE unread = 1;
CREATE INDEX notifications_mail ON notifications(email_next_at) WHERE email = 'pending';

-- Who watches a repository: told of every new issue, pull request and
-- comment in it. Owners watch the repositories they create.
CREATE TABLE watches (
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    repo_id    INTEGER NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, repo_id)
) WITHOUT ROWID;
CREATE INDEX watches_by_repo ON watches(repo_id);
INSERT INTO watches (user_id, repo_id, created_at) SELECT owner_id, id, created_at FROM repos;

-- What the running server is set to that the database layer must know:
-- 'mail' is 1 when it sends e-mail (so threads are queued for it).
CREATE TABLE server_flags (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
