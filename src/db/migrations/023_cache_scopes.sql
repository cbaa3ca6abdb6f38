-- Hearth schema, version 23: caches are scoped as GitHub scopes them. A
-- cache belongs to the ref whose run saved it (`refs/heads/main`,
-- `refs/pull/7/merge`, `refs/tags/v1`); a run restores from its own ref,
-- then its pull request's base branch, then the default branch, and saves
-- only to its own. So a pull request's run cannot write a cache that the
-- base branch restores. Caches saved before had no scope: they go (a cache
-- is only ever a shortcut; the next run saves it again).
DROP TABLE caches;
CREATE TABLE caches (
    repo_id    INTEGER NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    scope      TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    sha256     TEXT    NOT NULL,
    size       INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (repo_id, scope, key)
) WITHOUT ROWID;
