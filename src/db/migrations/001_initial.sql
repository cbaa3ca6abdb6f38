-- Hearth schema, version 1: accounts, repositories and the push log.
-- Migrations are append-only: never edit a released file, add the next one.
-- Times are Unix seconds (UTC). Names keep the case they were created with;
-- `lower_name` makes them unique case-insensitively.

-- People who sign in. The first account registered becomes an admin.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL,
    lower_name    TEXT    NOT NULL UNIQUE,
    email         TEXT,
    password_hash TEXT    NOT NULL,          -- argon2id, PHC string
    is_admin      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);

-- Browser sessions. The cookie holds a random secret; only its SHA-256 is kept.
CREATE TABLE sessions (
    secret_hash TEXT    PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX sessions_by_user ON sessions(user_id);

-- Personal access tokens, for git over HTTP and the API. Shown once, kept hashed.
CREATE TABLE access_tokens (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    label        TEXT    NOT NULL,
    token_hash   TEXT    NOT NULL UNIQUE,    -- SHA-256 of the token, hex
    token_hint   TEXT    NOT NULL,           -- the token's last 4 characters
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER
);
CREATE INDEX access_tokens_by_user ON access_tokens(user_id);

-- Repositories; the bare repository lives at repos/{owner}/{name}.git.
CREATE TABLE repos (
    id             INTEGER PRIMARY KEY,
    owner_id       INTEGER NOT NULL REFERENCES users(id),
    name           TEXT    NOT NULL,
    lower_name     TEXT    NOT NULL,
    description    TEXT    NOT NULL DEFAULT '',
    is_private     INTEGER NOT NULL DEFAULT 0,
    default_branch TEXT    NOT NULL DEFAULT 'main',
    created_at     INTEGER NOT NULL,
    UNIQUE (owner_id, lower_name)
);

-- People other than the owner who may read, or read and push.
CREATE TABLE collaborators (
    repo_id    INTEGER NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    permission TEXT    NOT NULL CHECK (permission IN ('read', 'write')),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (repo_id, user_id)
);

-- The refs of each repository as last recorded. Comparing this with the refs
-- on disk tells which updates have not been recorded yet (see ref_updates).
CREATE TABLE refs (
    repo_id INTEGER NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    name    TEXT    NOT NULL,
    target  TEXT    NOT NULL,                -- object id, hex
    PRIMARY KEY (repo_id, name)
) WITHOUT ROWID;

-- A push in progress: written before receive-pack starts and removed in the
-- same transaction that records its ref updates, so an update found at
-- start-up after a crash is still attributed to the person who pushed it.
CREATE TABLE pending_pushes (
    repo_id    INTEGER PRIMARY KEY REFERENCES repos(id) ON DELETE CASCADE,
    pusher_id  INTEGER REFERENCES users(id),
    started_at INTEGER NOT NULL
);

-- Every accepted ref update, exactly once. CI triggers from this table.
-- A zero id (40 zeros) as old_id means created, as new_id means deleted.
CREATE TABLE ref_updates (
    id        INTEGER PRIMARY KEY,
    repo_id   INTEGER NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    ref_name  TEXT    NOT NULL,
    old_id    TEXT    NOT NULL,
    new_id    TEXT    NOT NULL,
    pusher_id INTEGER REFERENCES users(id),
    pushed_at INTEGER NOT NULL,
    -- 'push': recorded when the push finished; 'reconcile': found at start-up
    source    TEXT    NOT NULL CHECK (source IN ('push', 'reconcile'))
);
CREATE INDEX ref_updates_by_repo ON ref_updates(repo_id, id);
