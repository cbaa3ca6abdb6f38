-- Hearth schema, version 21: comments are indexed one by one.
-- Until now `issues_fts.comments` held all of an issue's comments joined,
-- rebuilt in full at every new, edited or deleted comment (the 40th 1 MB
-- comment took most of a second, inside the one write lock). Each comment
-- is now its own row of an external-content index kept by triggers, so a
-- change costs what the comment costs.

DROP TABLE issues_fts;
CREATE VIRTUAL TABLE issues_fts USING fts5(title, body, tokenize = 'unicode61');
INSERT INTO issues_fts (rowid, title, body) SELECT id, title, body FROM issues;

CREATE VIRTUAL TABLE comments_fts USING fts5(
    body, content = 'comments', content_rowid = 'id', tokenize = 'unicode61'
);
INSERT INTO comments_fts (comments_fts) VALUES ('rebuild');

CREATE TRIGGER comments_fts_insert AFTER INSERT ON comments BEGIN
    INSERT INTO comments_fts (rowid, body) VALUES (new.id, new.body);
END;
CREATE TRIGGER comments_fts_delete AFTER DELETE ON comments BEGIN
    INSERT INTO comments_fts (comments_fts, rowid, body) VALUES ('delete', old.id, old.body);
END;
CREATE TRIGGER comments_fts_update AFTER UPDATE OF body ON comments BEGIN
    INSERT INTO comments_fts (comments_fts, rowid, body) VALUES ('delete', old.id, old.body);
    INSERT INTO comments_fts (rowid, body) VALUES (new.id, new.body);
END;
