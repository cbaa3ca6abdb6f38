-- Hearth schema, version 3: a version number per repository's issue data,
-- bumped by triggers on every change to issues, comments, labels,
-- milestones and assignees. Caches of rendered issue lists key on it, so no
-- code path can forget to invalidate them.

CREATE TABLE issue_versions (
    repo_id INTEGER PRIMARY KEY REFERENCES repos(id) ON DELETE CASCADE,
    version INTEGER NOT NULL
);

CREATE TRIGGER issues_changed_insert AFTER INSERT ON issues BEGIN
    INSERT INTO issue_versions (repo_id, version) VALUES (NEW.repo_id, 1)
        ON CONFLICT (repo_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER issues_changed_update AFTER UPDATE ON issues BEGIN
    INSERT INTO issue_versions (repo_id, version) VALUES (NEW.repo_id, 1)
        ON CONFLICT (repo_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER labels_changed_insert AFTER INSERT ON labels BEGIN
    INSERT INTO issue_versions (repo_id, version) VALUES (NEW.repo_id, 1)
        ON CONFLICT (repo_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER labels_changed_delete AFTER DELETE ON labels BEGIN
    INSERT INTO issue_versions (repo_id, version) VALUES (OLD.repo_id, 1)
        ON CONFLICT (repo_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER milestones_changed_insert AFTER INSERT ON milestones BEGIN
    INSERT INTO issue_versions (repo_id, version) VALUES (NEW.repo_id, 1)
        ON CONFLICT (repo_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER milestones_changed_update AFTER UPDATE ON milestones BEGIN
    INSERT INTO issue_versions (repo_id, version) VALUES (NEW.repo_id, 1)
        ON CONFLICT (repo_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER issue_labels_changed_insert AFTER INSERT ON issue_labels BEGIN
    UPDATE issue_versions SET version = version + 1
        WHERE repo_id = (SELECT repo_id FROM issues WHERE id = NEW.issue_id);
END;
CREATE TRIGGER issue_labels_changed_delete AFTER DELETE ON issue_labels BEGIN
    UPDATE issue_versions SET version = version + 1
        WHERE repo_id = (SELECT repo_id FROM issues WHERE id = OLD.issue_id);
END;
CREATE TRIGGER issue_assignees_changed_insert AFTER INSERT ON issue_assignees BEGIN
    UPDATE issue_versions SET version = version + 1
        WHERE repo_id = (SELECT repo_id FROM issues WHERE id = NEW.issue_id);
END;
CREATE TRIGGER issue_assignees_changed_delete AFTER DELETE ON issue_assignees BEGIN
    UPDATE issue_versions SET version = version + 1
        WHERE repo_id = (SELECT repo_id FROM issues WHERE id = OLD.issue_id);
END;
