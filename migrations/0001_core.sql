-- Firewatch core schema: incidents fed by Alertmanager, their alerts and timeline,
-- users, sessions and API tokens. All timestamps are unix milliseconds, UTC.

CREATE TABLE incidents (
    id               INTEGER PRIMARY KEY,
    title            TEXT    NOT NULL,
    description      TEXT    NOT NULL DEFAULT '',
    status           TEXT    NOT NULL CHECK (status IN ('triggered', 'acknowledged', 'resolved')),
    severity         TEXT    NOT NULL CHECK (severity IN ('P0', 'P1', 'P2', 'P3', 'P4')),
    service          TEXT    NOT NULL DEFAULT '',
    source           TEXT    NOT NULL CHECK (source IN ('alertmanager', 'manual', 'slo')),
    group_key        TEXT,
    runbook_url      TEXT,
    assignee         TEXT,
    commander        TEXT,
    created_by       TEXT    NOT NULL DEFAULT '',
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    acknowledged_at  INTEGER,
    acknowledged_by  TEXT,
    resolved_at      INTEGER,
    resolved_by      TEXT,
    alert_count      INTEGER NOT NULL DEFAULT 0,
    firing_count     INTEGER NOT NULL DEFAULT 0
) STRICT;

-- Newest-first listing, optionally filtered by status and/or severity. Open incidents
-- (the default list) have their own partial index so the first page never sorts.
CREATE INDEX incidents_open_id     ON incidents (id) WHERE status != 'resolved';
CREATE INDEX incidents_status_id   ON incidents (status, id);
CREATE INDEX incidents_severity_id ON incidents (severity, id);
-- The incident that an Alertmanager group currently belongs to is the newest one with its key.
CREATE INDEX incidents_group_key   ON incidents (group_key, id) WHERE group_key IS NOT NULL;
-- Retention deletes old resolved incidents.
-- Response statistics over recent incidents.
CREATE INDEX incidents_created_at  ON incidents (created_at);
CREATE INDEX incidents_resolved_at ON incidents (resolved_at) WHERE resolved_at IS NOT NULL;

-- Incident counts per (status, severity), kept exact by triggers so the dashboard, the
-- list tabs and /metrics never count 100,000 rows.
CREATE TABLE incident_counts (
    status    TEXT    NOT NULL,
    severity  TEXT    NOT NULL,
    n         INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (status, severity)
) STRICT, WITHOUT ROWID;
INSERT INTO incident_counts (status, severity)
    SELECT s.value, v.value
    FROM json_each('["triggered","acknowledged","resolved"]') s, json_each('["P0","P1","P2","P3","P4"]') v;

CREATE TRIGGER incident_counts_insert AFTER INSERT ON incidents BEGIN
    UPDATE incident_counts SET n = n + 1 WHERE status = NEW.status AND severity = NEW.severity;
END;
CREATE TRIGGER incident_counts_delete AFTER DELETE ON incidents BEGIN
    UPDATE incident_counts SET n = n - 1 WHERE status = OLD.status AND severity = OLD.severity;
END;
CREATE TRIGGER incident_counts_update AFTER UPDATE OF status, severity ON incidents
    WHEN OLD.status != NEW.status OR OLD.severity != NEW.severity BEGIN
    UPDATE incident_counts SET n = n - 1 WHERE status = OLD.status AND severity = OLD.severity;
    UPDATE incident_counts SET n = n + 1 WHERE status = NEW.status AND severity = NEW.severity;
END;

CREATE TABLE alerts (
    id             INTEGER PRIMARY KEY,
    incident_id    INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    fingerprint    TEXT    NOT NULL,
    status         TEXT    NOT NULL CHECK (status IN ('firing', 'resolved')),
    alertname      TEXT    NOT NULL DEFAULT '',
    severity       TEXT    NOT NULL,
    labels         TEXT    NOT NULL,  -- JSON object
    annotations    TEXT    NOT NULL,  -- JSON object
    starts_at      INTEGER NOT NULL,
    ends_at        INTEGER,
    generator_url  TEXT    NOT NULL DEFAULT '',
    first_seen_at  INTEGER NOT NULL,
    last_seen_at   INTEGER NOT NULL,
    UNIQUE (incident_id, fingerprint)
) STRICT;

CREATE TABLE timeline (
    id           INTEGER PRIMARY KEY,
    incident_id  INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    at           INTEGER NOT NULL,
    kind         TEXT    NOT NULL,
    actor        TEXT    NOT NULL,
    message      TEXT    NOT NULL,
    details      TEXT    -- JSON, optional
) STRICT;
CREATE INDEX timeline_incident ON timeline (incident_id, id);

CREATE TABLE users (
    id             INTEGER PRIMARY KEY,
    name           TEXT    NOT NULL UNIQUE,
    role           TEXT    NOT NULL CHECK (role IN ('viewer', 'responder', 'admin')),
    password_hash  TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    disabled       INTEGER NOT NULL DEFAULT 0
) STRICT;

-- Server-side sessions; the cookie holds a random id, the table only its SHA-256.
CREATE TABLE sessions (
    id_hash     TEXT    PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE api_tokens (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    role        TEXT    NOT NULL CHECK (role IN ('viewer', 'responder', 'admin')),
    token_hash  TEXT    NOT NULL UNIQUE,
    prefix      TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    created_by  TEXT    NOT NULL,
    revoked_at  INTEGER
) STRICT;

-- Small key/value settings kept with the data (e.g. the generated webhook token).
CREATE TABLE settings (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
) STRICT;
