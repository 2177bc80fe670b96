-- Notifications: a durable outbox written in the same transaction as the incident change
-- that causes it, delivered by a worker with retries.

-- Common labels of the alert group, for routing by label (JSON object).
ALTER TABLE incidents ADD COLUMN labels TEXT NOT NULL DEFAULT '{}';

CREATE TABLE notifications (
    id               INTEGER PRIMARY KEY,
    incident_id      INTEGER REFERENCES incidents (id) ON DELETE CASCADE,  -- NULL: a test message
    receiver         TEXT    NOT NULL,
    channel          TEXT    NOT NULL CHECK (channel IN ('slack', 'pagerduty', 'email', 'webhook')),
    event            TEXT    NOT NULL,
    status           TEXT    NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    delivered_at     INTEGER
) STRICT;
-- The worker's queue: pending rows by due time.
CREATE INDEX notifications_pending ON notifications (next_attempt_at) WHERE status = 'pending';
CREATE INDEX notifications_incident ON notifications (incident_id, receiver, id);

-- Silences (maintenance windows): while active, matching incidents notify nobody.
CREATE TABLE silences (
    id          INTEGER PRIMARY KEY,
    matchers    TEXT    NOT NULL,  -- JSON object: severity / service / label -> value
    comment     TEXT    NOT NULL,
    created_by  TEXT    NOT NULL,
    starts_at   INTEGER NOT NULL,
    ends_at     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX silences_ends_at ON silences (ends_at);
