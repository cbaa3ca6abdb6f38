-- Hearth schema, version 17: webhooks and their deliveries.
-- A delivery is queued in the transaction that decides it is due and is
-- sent (and retried) by the server's delivery task; its attempts are kept
-- so the settings page can show what was sent and what came back.

CREATE TABLE hooks (
    id            INTEGER PRIMARY KEY,
    repo_id       INTEGER NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    url           TEXT    NOT NULL,
    content_type  TEXT    NOT NULL DEFAULT 'json' CHECK (content_type IN ('json', 'form')),
    -- The secret, sealed with the server's key (empty nonce: no secret).
    secret_nonce  BLOB    NOT NULL DEFAULT x'',
    secret        BLOB    NOT NULL DEFAULT x'',
    events        TEXT    NOT NULL,           -- a JSON array of event names, or ["*"]
    active        INTEGER NOT NULL DEFAULT 1,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX hooks_by_repo ON hooks(repo_id);

CREATE TABLE hook_deliveries (
    id              INTEGER PRIMARY KEY,
    hook_id         INTEGER NOT NULL REFERENCES hooks(id) ON DELETE CASCADE,
    guid            TEXT    NOT NULL UNIQUE,
    event           TEXT    NOT NULL,
    action          TEXT,
    payload         TEXT    NOT NULL,
    redelivery      INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    -- 'pending' until an attempt is answered 2xx ('delivered') or the last
    -- attempt fails ('failed').
    state           TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,                  -- NULL once no attempt is due
    status_code     INTEGER,                  -- of the last attempt; NULL: no answer
    status          TEXT    NOT NULL DEFAULT '',  -- "OK", or what went wrong
    duration_ms     INTEGER,
    delivered_at    INTEGER
);
CREATE INDEX hook_deliveries_by_hook ON hook_deliveries(hook_id, id);
CREATE INDEX hook_deliveries_due ON hook_deliveries(next_attempt_at) WHERE next_attempt_at IS NOT NULL;

CREATE TABLE hook_attempts (
    delivery_id      INTEGER NOT NULL REFERENCES hook_deliveries(id) ON DELETE CASCADE,
    attempt          INTEGER NOT NULL,
    started_at       INTEGER NOT NULL,
    duration_ms      INTEGER NOT NULL,
    status_code      INTEGER,
    error            TEXT    NOT NULL DEFAULT '',
    request_headers  TEXT    NOT NULL,        -- JSON object
    response_headers TEXT    NOT NULL DEFAULT '{}',
    response_body    TEXT    NOT NULL DEFAULT '',  -- the first bytes, as text
    PRIMARY KEY (delivery_id, attempt)
);

-- What happened, noted in the transaction that made it happen (only for a
-- repository with an active hook), and turned into deliveries by the
-- delivery task: `subject` is the row the event is about (a ref update, an
-- issue, a comment, a run, a job, a deployment status...).
CREATE TABLE hook_events (
    id         INTEGER PRIMARY KEY,
    repo_id    INTEGER NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    event      TEXT    NOT NULL,
    action     TEXT,
    subject    INTEGER NOT NULL,
    sender_id  INTEGER REFERENCES users(id) ON DELETE SET NULL,
    extra      TEXT    NOT NULL DEFAULT '{}',  -- what the subject no longer says (an edit's old title)
    created_at INTEGER NOT NULL
);

-- Milestones are numbered in their repository, as GitHub's are (clients
-- address them by number), in the order they were made.
ALTER TABLE milestones ADD COLUMN number INTEGER;
UPDATE milestones SET number = (SELECT COUNT(*) FROM milestones o WHERE o.repo_id = milestones.repo_id AND o.id <= milestones.id);
CREATE UNIQUE INDEX milestones_by_number ON milestones(repo_id, number);
