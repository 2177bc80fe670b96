-- Firing alerts per severity, kept on the incident as its alerts change: an alert joining
-- an incident of 100,000 alerts costs one row update instead of a recount, and the most
-- urgent firing severity is the first non-zero counter.
ALTER TABLE incidents ADD COLUMN firing_p0 INTEGER NOT NULL DEFAULT 0;
ALTER TABLE incidents ADD COLUMN firing_p1 INTEGER NOT NULL DEFAULT 0;
ALTER TABLE incidents ADD COLUMN firing_p2 INTEGER NOT NULL DEFAULT 0;
ALTER TABLE incidents ADD COLUMN firing_p3 INTEGER NOT NULL DEFAULT 0;
ALTER TABLE incidents ADD COLUMN firing_p4 INTEGER NOT NULL DEFAULT 0;

UPDATE incidents SET
    firing_p0 = (SELECT COUNT(*) FROM alerts a WHERE a.incident_id = incidents.id AND a.status = 'firing' AND a.severity = 'P0'),
    firing_p1 = (SELECT COUNT(*) FROM alerts a WHERE a.incident_id = incidents.id AND a.status = 'firing' AND a.severity = 'P1'),
    firing_p2 = (SELECT COUNT(*) FROM alerts a WHERE a.incident_id = incidents.id AND a.status = 'firing' AND a.severity = 'P2'),
    firing_p3 = (SELECT COUNT(*) FROM alerts a WHERE a.incident_id = incidents.id AND a.status = 'firing' AND a.severity = 'P3'),
    firing_p4 = (SELECT COUNT(*) FROM alerts a WHERE a.incident_id = incidents.id AND a.status = 'firing' AND a.severity = 'P4')
WHERE alert_count > 0;
