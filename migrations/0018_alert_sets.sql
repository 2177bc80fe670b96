-- Labels and annotations the alerts of a notification share (and a generator link they
-- all have) are stored once per incident: a storm's alerts differ in a pod and an
-- instance, not in their twenty other labels, and their summaries differ by the pod
-- they name (kept as a template). An alert keeps only what is its own and
-- names its set; alerts written before this migration have no set and keep everything.
-- Sets belong to their incident and go with it.
CREATE TABLE alert_sets (
    id             INTEGER PRIMARY KEY,
    incident_id    INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    hash           BLOB    NOT NULL,  -- SHA-256 (first 16 bytes) of the content
    labels         TEXT    NOT NULL,  -- JSON object
    annotations    TEXT    NOT NULL,  -- JSON object
    templates      TEXT    NOT NULL,  -- JSON object: annotation -> text with \0label\0
    generator_url  TEXT    NOT NULL,
    UNIQUE (incident_id, hash)
) STRICT;
-- No REFERENCES: deleting a set would then look for its alerts, which no index serves;
-- both go with their incident in one cascade.
ALTER TABLE alerts ADD COLUMN set_id INTEGER;
