-- Each message keeps one timeline entry, updated at every attempt, instead of a line per
-- attempt.
ALTER TABLE notifications ADD COLUMN timeline_id INTEGER;

-- Recent dead letters, for the banner on the dashboard and incident pages.
CREATE INDEX notifications_failed ON notifications (created_at) WHERE status = 'failed';
