-- Scheduled jobs: the last slot each job claimed (so a slot runs once, also across
-- replicas), who runs it now (a lease), and how its last run went.
CREATE TABLE jobs (
    name              TEXT    PRIMARY KEY,
    last_slot         INTEGER NOT NULL DEFAULT 0,   -- scheduled time (ms) of the last slot claimed
    lease_owner       TEXT,
    lease_until       INTEGER,
    last_started_at   INTEGER,
    last_finished_at  INTEGER,
    last_trigger      TEXT CHECK (last_trigger IN ('schedule', 'catch-up', 'manual')),
    last_outcome      TEXT CHECK (last_outcome IN ('ok', 'failed')),
    last_detail       TEXT    NOT NULL DEFAULT '',
    last_duration_ms  INTEGER
) STRICT;
