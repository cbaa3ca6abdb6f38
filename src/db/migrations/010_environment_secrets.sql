-- Hearth schema, version 10: secrets and variables of an environment,
-- which only the jobs deploying there see (`secrets`, `vars`). Secret
-- values are sealed like repository secrets, with the environment in
-- their associated data. Deployments found by commit, for the pipeline
-- page, the artifacts each deployed, and rollbacks.

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

-- The artifacts a deployment's job downloaded, by digest: later stages
-- deploy the bytes the run built, and say which.
CREATE TABLE deployment_artifacts (
    deployment_id INTEGER NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    sha256        TEXT    NOT NULL,
    PRIMARY KEY (deployment_id, name)
) WITHOUT ROWID;

-- A deployment job run again to put an earlier deployment back: the job
-- knows which, and its deployment is recorded as a rollback of it.
ALTER TABLE jobs ADD COLUMN rollback_of INTEGER REFERENCES deployments(id) ON DELETE SET NULL;
ALTER TABLE deployments ADD COLUMN rollback_of INTEGER REFERENCES deployments(id) ON DELETE SET NULL;
