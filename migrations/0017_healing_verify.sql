-- Verification of healing actions: the alert an action answered (fingerprint, labels),
-- when to check that it resolved, and what the check found (pending, resolved,
-- unresolved). A rule stops for a target after max_attempts unresolved actions.
ALTER TABLE healing_actions ADD COLUMN fingerprint TEXT;
ALTER TABLE healing_actions ADD COLUMN labels TEXT;
ALTER TABLE healing_actions ADD COLUMN verify_at INTEGER;
ALTER TABLE healing_actions ADD COLUMN verified TEXT
    CHECK (verified IS NULL OR verified IN ('pending', 'resolved', 'unresolved'));
CREATE INDEX healing_actions_verify ON healing_actions (verified, verify_at)
    WHERE verified = 'pending';
