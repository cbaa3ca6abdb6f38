-- Hearth schema, version 14: annotations a job's steps made with the
-- workflow commands `::error::`, `::warning::` and `::notice::`, shown on
-- the run's page, maybe about a line of a file.

CREATE TABLE annotations (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    job_id      INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    level       TEXT    NOT NULL CHECK (level IN ('error', 'warning', 'notice')),
    message     TEXT    NOT NULL,
    title       TEXT,
    file        TEXT,
    line        INTEGER,
    end_line    INTEGER,
    col         INTEGER,
    end_col     INTEGER
);
CREATE INDEX annotations_by_run ON annotations (run_id);
