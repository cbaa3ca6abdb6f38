-- Hearth schema, version 10: secrets and variables of an environment,
-- which only the jobs deploying there see (`secrets`, `vars`). Secret
-- values are sealed like repository secrets, with the environment in
-- their associated data. And deployments found by commit, for the
-- pipeline page.

CREATE TABLE environment_secrets (
    environment_id INTEGER NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    name           TEXT    NOT NULL,
    nonce          BLOB    NOT NULL,
    ciphertext     BLOB    NOT NULL,
    updated_at     INTEGER NOT NULL,
    PRIMARY KEY (environment_id, name)
) WITHOUT ROWID;

CREATE TABLE environment_variables (
    environment_id INTEGER NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    name           TEXT    NOT NULL,
    value          TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    PRIMARY KEY (environment_id, name)
) WITHOUT ROWID;
CREATE INDEX deployments_by_commit ON deployments (repo_id, sha);
