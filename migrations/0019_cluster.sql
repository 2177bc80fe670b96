-- The replicas sharing the database (with the PostgreSQL backend; on SQLite the one
-- process): each writes a heartbeat, and the leader, which runs the work that must run
-- once (scraping, SLO evaluation, scheduled jobs, reminders, healing checks), holds the
-- lease row 'leader' until `until` (unix ms), renewing it while alive.
CREATE TABLE cluster_members (
    instance    TEXT    PRIMARY KEY,
    started_at  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL
) STRICT;
CREATE TABLE cluster_leases (
    name    TEXT    PRIMARY KEY,
    holder  TEXT    NOT NULL,
    until   INTEGER NOT NULL
) STRICT;
