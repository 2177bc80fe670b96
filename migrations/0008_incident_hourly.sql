-- Response numbers per hour of creation, kept exact by triggers like incident_counts, so
-- the dashboard's 30-day MTTA and MTTR add up at most 720 rows whatever the number of
-- incidents (plus the incidents of one partial hour).
CREATE TABLE incident_hourly (
    hour          INTEGER PRIMARY KEY,           -- created_at floored to the hour (ms)
    created       INTEGER NOT NULL DEFAULT 0,
    acknowledged  INTEGER NOT NULL DEFAULT 0,
    resolved      INTEGER NOT NULL DEFAULT 0,
    tta_ms        INTEGER NOT NULL DEFAULT 0,    -- sum of acknowledged_at - created_at
    ttr_ms        INTEGER NOT NULL DEFAULT 0     -- sum of resolved_at - created_at
) STRICT;

INSERT INTO incident_hourly (hour, created, acknowledged, resolved, tta_ms, ttr_ms)
SELECT created_at - created_at % 3600000, COUNT(*), COUNT(acknowledged_at), COUNT(resolved_at),
       COALESCE(SUM(acknowledged_at - created_at), 0), COALESCE(SUM(resolved_at - created_at), 0)
FROM incidents GROUP BY created_at - created_at % 3600000;

CREATE TRIGGER incident_hourly_insert AFTER INSERT ON incidents BEGIN
    INSERT INTO incident_hourly (hour, created, acknowledged, resolved, tta_ms, ttr_ms)
    VALUES (NEW.created_at - NEW.created_at % 3600000, 1,
            NEW.acknowledged_at IS NOT NULL, NEW.resolved_at IS NOT NULL,
            COALESCE(NEW.acknowledged_at - NEW.created_at, 0),
            COALESCE(NEW.resolved_at - NEW.created_at, 0))
    ON CONFLICT (hour) DO UPDATE SET created = created + 1,
        acknowledged = acknowledged + excluded.acknowledged,
        resolved = resolved + excluded.resolved,
        tta_ms = tta_ms + excluded.tta_ms, ttr_ms = ttr_ms + excluded.ttr_ms;
END;

CREATE TRIGGER incident_hourly_delete AFTER DELETE ON incidents BEGIN
    UPDATE incident_hourly SET created = created - 1,
        acknowledged = acknowledged - (OLD.acknowledged_at IS NOT NULL),
        resolved = resolved - (OLD.resolved_at IS NOT NULL),
        tta_ms = tta_ms - COALESCE(OLD.acknowledged_at - OLD.created_at, 0),
        ttr_ms = ttr_ms - COALESCE(OLD.resolved_at - OLD.created_at, 0)
    WHERE hour = OLD.created_at - OLD.created_at % 3600000;
END;

CREATE TRIGGER incident_hourly_update AFTER UPDATE OF created_at, acknowledged_at, resolved_at
    ON incidents
    WHEN OLD.created_at IS NOT NEW.created_at
      OR OLD.acknowledged_at IS NOT NEW.acknowledged_at
      OR OLD.resolved_at IS NOT NEW.resolved_at BEGIN
    UPDATE incident_hourly SET
        acknowledged = acknowledged - (OLD.acknowledged_at IS NOT NULL),
        resolved = resolved - (OLD.resolved_at IS NOT NULL),
        tta_ms = tta_ms - COALESCE(OLD.acknowledged_at - OLD.created_at, 0),
        ttr_ms = ttr_ms - COALESCE(OLD.resolved_at - OLD.created_at, 0),
        created = created - 1
    WHERE hour = OLD.created_at - OLD.created_at % 3600000;
    INSERT INTO incident_hourly (hour, created, acknowledged, resolved, tta_ms, ttr_ms)
    VALUES (NEW.created_at - NEW.created_at % 3600000, 1,
            NEW.acknowledged_at IS NOT NULL, NEW.resolved_at IS NOT NULL,
            COALESCE(NEW.acknowledged_at - NEW.created_at, 0),
            COALESCE(NEW.resolved_at - NEW.created_at, 0))
    ON CONFLICT (hour) DO UPDATE SET created = created + 1,
        acknowledged = acknowledged + excluded.acknowledged,
        resolved = resolved + excluded.resolved,
        tta_ms = tta_ms + excluded.tta_ms, ttr_ms = ttr_ms + excluded.ttr_ms;
END;
