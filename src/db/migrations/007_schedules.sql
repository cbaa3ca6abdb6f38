-- Hearth schema, version 7: scheduled runs (`on: schedule`). A workflow's
-- schedule fires at most once a minute: its run is inserted in the same
-- transaction as the row saying that minute fired.

CREATE TABLE schedule_ticks (
    repo_id  INTEGER NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    workflow TEXT    NOT NULL,          -- file path
    minute   INTEGER NOT NULL,          -- Unix time / 60
    PRIMARY KEY (repo_id, workflow, minute)
) WITHOUT ROWID;
