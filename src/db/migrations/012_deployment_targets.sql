-- Hearth schema, version 12: the targets of a rolling deploy
-- (`uses: hearth/deploy`), each with the release it went to and how.

CREATE TABLE deployment_targets (
    deployment_id INTEGER NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    position      INTEGER NOT NULL,            -- order in the `targets` list, from 0
    name          TEXT    NOT NULL,            -- as written, e.g. local:web1
    batch         INTEGER NOT NULL,            -- from 1
    state         TEXT    NOT NULL CHECK (state IN ('pending', 'in_progress', 'success', 'failure', 'rolled_back')),
    release       TEXT    NOT NULL DEFAULT '', -- releases/{release} on the target
    previous      TEXT    NOT NULL DEFAULT '', -- what `current` was before
    message       TEXT    NOT NULL DEFAULT '',
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (deployment_id, position)
) WITHOUT ROWID;
