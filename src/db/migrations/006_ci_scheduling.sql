-- Hearth schema, version 6: concurrency groups, cancelling running jobs
-- through the queue, jobs allowed to fail, and workflow_dispatch inputs.

-- The run's concurrency group (expressions evaluated); NULL: none.
ALTER TABLE runs ADD COLUMN concurrency TEXT;
-- The inputs of a workflow_dispatch run, a JSON object.
ALTER TABLE runs ADD COLUMN inputs TEXT NOT NULL DEFAULT '{}';
CREATE INDEX runs_open_groups ON runs(repo_id, concurrency) WHERE concurrency IS NOT NULL;

-- The job's own concurrency group; NULL: none.
ALTER TABLE jobs ADD COLUMN concurrency TEXT;
-- Set to stop a running job (cancel, cancel-in-progress, fail-fast); the
-- executor stops it and records it cancelled.
ALTER TABLE jobs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;
-- continue-on-error held when the job failed: the failure does not fail the
-- run or the jobs that need it.
ALTER TABLE jobs ADD COLUMN allowed_failure INTEGER NOT NULL DEFAULT 0;
