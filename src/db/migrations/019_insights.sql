-- Hearth schema, version 19: which environment is production, for the
-- delivery insights (DORA measures) of a repository.

ALTER TABLE repos ADD COLUMN production_environment TEXT NOT NULL DEFAULT 'prod';
