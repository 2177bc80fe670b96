-- Self-healing: every decision a rule makes (the audit trail), and the kill switch.
CREATE TABLE healing_actions (
    id           INTEGER PRIMARY KEY,
    rule         TEXT    NOT NULL,
    action       TEXT    NOT NULL,
    target       TEXT    NOT NULL,            -- namespace/name, or what the action names
    dry_run      INTEGER NOT NULL,
    -- running while the call is made; then executed, dry_run or failed. skipped rows
    -- say why in `reason` (cooldown, cap, paused, not allowed, no target).
    outcome      TEXT    NOT NULL CHECK (outcome IN ('running', 'executed', 'dry_run', 'skipped', 'failed')),
    reason       TEXT    NOT NULL DEFAULT '',
    incident_id  INTEGER,
    at           INTEGER NOT NULL
) STRICT;
CREATE INDEX healing_actions_rule_at ON healing_actions (rule, at);
CREATE INDEX healing_actions_target ON healing_actions (rule, target, at);
CREATE INDEX healing_actions_incident ON healing_actions (incident_id, id);
CREATE INDEX healing_actions_at ON healing_actions (at);

-- Key-value state of healing; `paused` = 1 is the kill switch.
CREATE TABLE healing_state (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
) STRICT;
