-- Hearth schema, version 22: each milestone keeps its open and closed
-- counts. GitHub's `milestone` object carries them, so the API issue list
-- counted them for every milestone of a page at every request (10,000
-- issues in a milestone: 41 ms a page). Triggers keep them, as they keep
-- the issue data's version.

ALTER TABLE milestones ADD COLUMN open_issues INTEGER NOT NULL DEFAULT 0;
ALTER TABLE milestones ADD COLUMN closed_issues INTEGER NOT NULL DEFAULT 0;
UPDATE milestones SET
    open_issues = (SELECT count(*) FROM issues i WHERE i.milestone_id = milestones.id AND i.state = 'open'),
    closed_issues = (SELECT count(*) FROM issues i WHERE i.milestone_id = milestones.id AND i.state = 'closed');

CREATE TRIGGER milestone_counts_insert AFTER INSERT ON issues WHEN new.milestone_id IS NOT NULL BEGIN
    UPDATE milestones SET open_issues = open_issues + (new.state = 'open'),
        closed_issues = closed_issues + (new.state = 'closed')
    WHERE id = new.milestone_id;
END;
CREATE TRIGGER milestone_counts_delete AFTER DELETE ON issues WHEN old.milestone_id IS NOT NULL BEGIN
    UPDATE milestones SET open_issues = open_issues - (old.state = 'open'),
        closed_issues = closed_issues - (old.state = 'closed')
    WHERE id = old.milestone_id;
END;
CREATE TRIGGER milestone_counts_update AFTER UPDATE OF state, milestone_id ON issues
WHEN old.state IS NOT new.state OR old.milestone_id IS NOT new.milestone_id BEGIN
    UPDATE milestones SET open_issues = open_issues - (old.state = 'open'),
        closed_issues = closed_issues - (old.state = 'closed')
    WHERE id = old.milestone_id;
    UPDATE milestones SET open_issues = open_issues + (new.state = 'open'),
        closed_issues = closed_issues + (new.state = 'closed')
    WHERE id = new.milestone_id;
END;
