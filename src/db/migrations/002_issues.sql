-- Hearth schema, version 2: the issue tracker. Issues are numbered per
-- repository from 1; their timeline is the comments and the events
-- interleaved by time.

-- Sprints: a milestone with dates; progress is closed/total of its issues.
CREATE TABLE milestones (
    id          INTEGER PRIMARY KEY,
    repo_id     INTEGER NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    title       TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    start_on    TEXT,                        -- YYYY-MM-DD
    due_on      TEXT,                        -- YYYY-MM-DD
    state       TEXT    NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closed')),
    created_at  INTEGER NOT NULL,
    UNIQUE (repo_id, title)
);

CREATE TABLE labels (
    id          INTEGER PRIMARY KEY,
    repo_id     INTEGER NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    name        TEXT    NOT NULL COLLATE NOCASE,
    color       TEXT    NOT NULL,            -- six hex digits, no '#'
    description TEXT    NOT NULL DEFAULT '',
    UNIQUE (repo_id, name)
);

CREATE TABLE issues (
    id           INTEGER PRIMARY KEY,
    repo_id      INTEGER NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    number       INTEGER NOT NULL,
    title        TEXT    NOT NULL,
    body         TEXT    NOT NULL DEFAULT '',
    author_id    INTEGER NOT NULL REFERENCES users(id),
    state        TEXT    NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closed')),
    -- why it was closed: 'completed' or 'not_planned'
    close_reason TEXT CHECK (close_reason IN ('completed', 'not_planned')),
    -- the board column: 'todo', 'in_progress' or 'done'
    column_name  TEXT    NOT NULL DEFAULT 'todo' CHECK (column_name IN ('todo', 'in_progress', 'done')),
    milestone_id INTEGER REFERENCES milestones(id) ON DELETE SET NULL,
    comments     INTEGER NOT NULL DEFAULT 0, -- count, for sorting by most commented
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    closed_at    INTEGER,
    UNIQUE (repo_id, number)
);
CREATE INDEX issues_by_state ON issues(repo_id, state, number);
CREATE INDEX issues_by_updated ON issues(repo_id, state, updated_at);
CREATE INDEX issues_by_milestone ON issues(milestone_id, state);
CREATE INDEX issues_by_author ON issues(author_id);

CREATE TABLE issue_labels (
    issue_id INTEGER NOT NULL REFERENCES issues(id) ON DELETE CASCADE,
    label_id INTEGER NOT NULL REFERENCES labels(id) ON DELETE CASCADE,
    PRIMARY KEY (issue_id, label_id)
) WITHOUT ROWID;
CREATE INDEX issue_labels_by_label ON issue_labels(label_id, issue_id);

CREATE TABLE issue_assignees (
    issue_id INTEGER NOT NULL REFERENCES issues(id) ON DELETE CASCADE,
    user_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (issue_id, user_id)
) WITHOUT ROWID;
CREATE INDEX issue_assignees_by_user ON issue_assignees(user_id, issue_id);

CREATE TABLE comments (
    id         INTEGER PRIMARY KEY,
    issue_id   INTEGER NOT NULL REFERENCES issues(id) ON DELETE CASCADE,
    author_id  INTEGER NOT NULL REFERENCES users(id),
    body       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX comments_by_issue ON comments(issue_id, id);

-- What happened to an issue besides comments. `kind` is one of: closed,
-- reopened, labeled, unlabeled, assigned, unassigned, milestoned,
-- demilestoned, moved (on the board), referenced (by a commit), closed_by_commit.
-- `detail` is the label name, user name, milestone title, column or commit id.
CREATE TABLE issue_events (
    id         INTEGER PRIMARY KEY,
    issue_id   INTEGER NOT NULL REFERENCES issues(id) ON DELETE CASCADE,
    actor_id   INTEGER REFERENCES users(id),
    kind       TEXT    NOT NULL,
    detail     TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
);
CREATE INDEX issue_events_by_issue ON issue_events(issue_id, id);
-- A commit references or closes an issue once, however often it is pushed.
CREATE UNIQUE INDEX issue_events_commit_once ON issue_events(issue_id, kind, detail)
    WHERE kind IN ('referenced', 'closed_by_commit');

-- Free-text search over titles, bodies and comments. Rows are keyed by
-- issue id; `comments` holds all comment bodies of the issue joined.
CREATE VIRTUAL TABLE issues_fts USING fts5(title, body, comments, tokenize = 'unicode61');
