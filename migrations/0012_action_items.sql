-- Action items of post-mortems: owned, dated and followed up (the tracker).
CREATE TABLE action_items (
    id             INTEGER PRIMARY KEY,
    postmortem_id  INTEGER NOT NULL REFERENCES postmortems (id) ON DELETE CASCADE,
    title          TEXT    NOT NULL,
    owner          TEXT    NOT NULL,
    kind           TEXT    NOT NULL CHECK (kind IN ('mitigate', 'prevent', 'process')),
    priority       TEXT    NOT NULL CHECK (priority IN ('high', 'medium', 'low')),
    due            TEXT    NOT NULL,  -- YYYY-MM-DD, a civil date in evaluation.time_zone
    status         TEXT    NOT NULL CHECK (status IN ('open', 'in_progress', 'done', 'wont_do')),
    url            TEXT    NOT NULL DEFAULT '',
    created_by     TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
) STRICT;
CREATE INDEX action_items_postmortem ON action_items (postmortem_id, id);
CREATE INDEX action_items_status_due ON action_items (status, due);
