-- Hearth schema, version 13: releases made from tags, with their assets
-- (files kept by SHA-256 in the artifact store), and the documentation a
-- repository publishes.

CREATE TABLE releases (
    id               INTEGER PRIMARY KEY,
    repo_id          INTEGER NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    tag_name         TEXT    NOT NULL,
    target_commitish TEXT    NOT NULL,            -- the commit the tag names
    name             TEXT    NOT NULL DEFAULT '',
    body             TEXT    NOT NULL DEFAULT '', -- the notes, Markdown
    draft            INTEGER NOT NULL DEFAULT 0,
    prerelease       INTEGER NOT NULL DEFAULT 0,
    author_id        INTEGER REFERENCES users(id) ON DELETE SET NULL,
    run_id           INTEGER REFERENCES runs(id) ON DELETE SET NULL,  -- the run that published it
    created_at       INTEGER NOT NULL,
    published_at     INTEGER,                     -- none while a draft
    UNIQUE (repo_id, tag_name)
);

CREATE TABLE release_assets (
    id             INTEGER PRIMARY KEY,
    release_id     INTEGER NOT NULL REFERENCES releases(id) ON DELETE CASCADE,
    name           TEXT    NOT NULL,
    label          TEXT    NOT NULL DEFAULT '',
    content_type   TEXT    NOT NULL,
    size           INTEGER NOT NULL,
    sha256         TEXT    NOT NULL,
    download_count INTEGER NOT NULL DEFAULT 0,
    uploader_id    INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at     INTEGER NOT NULL,
    UNIQUE (release_id, name)
);

-- What /{owner}/{repo}/docs/ serves: a folder a run published, packed.
CREATE TABLE published_docs (
    repo_id      INTEGER PRIMARY KEY REFERENCES repos(id) ON DELETE CASCADE,
    sha256       TEXT    NOT NULL,
    files        INTEGER NOT NULL,
    run_id       INTEGER REFERENCES runs(id) ON DELETE SET NULL,
    commit_sha   TEXT    NOT NULL,
    published_at INTEGER NOT NULL
);
