-- Monthly SLO reports: immutable snapshots (numbers and renderings). Regenerating a month
-- adds a revision; old revisions are kept.
CREATE TABLE reports (
    month         TEXT    NOT NULL,             -- YYYY-MM in evaluation.time_zone
    revision      INTEGER NOT NULL,
    generated_at  INTEGER NOT NULL,
    generated_by  TEXT    NOT NULL,
    month_to_date INTEGER NOT NULL DEFAULT 0,   -- generated before the month ended
    data          TEXT    NOT NULL,             -- the numbers (JSON)
    markdown      TEXT    NOT NULL,
    html          TEXT    NOT NULL,             -- the page's body
    pdf           BLOB,
    PRIMARY KEY (month, revision)
) STRICT;
