-- Hearth schema, version 5: repository secrets for CI. Values are encrypted
-- (XChaCha20-Poly1305) with a key kept in the data directory, not here.

CREATE TABLE secrets (
    repo_id    INTEGER NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,              -- upper case: [A-Z_][A-Z0-9_]*
    nonce      BLOB    NOT NULL,              -- 24 random bytes
    ciphertext BLOB    NOT NULL,              -- the value, sealed with repo and name as associated data
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (repo_id, name)
) WITHOUT ROWID;
