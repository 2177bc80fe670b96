-- Drills: incidents opened by `firewatch drill` (or any alert labelled firewatch_drill).
-- 0 a real incident, 1 a drill, 2 a drill that may page PagerDuty (`--page`).
ALTER TABLE incidents ADD COLUMN drill INTEGER NOT NULL DEFAULT 0 CHECK (drill IN (0, 1, 2));

-- Drills are left out of the response numbers (MTTA, MTTR): the hourly sums only count
-- real incidents. A drill never becomes real or the other way round, so the conditions
-- on OLD and NEW agree.
DROP TRIGGER incident_hourly_insert;
DROP TRIGGER incident_hourly_delete;
DROP TRIGGER incident_hourly_update;

CREATE TRIGGER incident_hourly_insert AFTER INSERT ON incidents WHEN NEW.drill = 0 BEGIN
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

CREATE TRIGGER incident_hourly_delete AFTER DELETE ON incidents WHEN OLD.drill = 0 BEGIN
    UPDATE incident_hourly SET created = created - 1,
        acknowledged = acknowledged - (OLD.acknowledged_at IS NOT NULL),
        resolved = resolved - (OLD.resolved_at IS NOT NULL),
        tta_ms = tta_ms - COALESCE(OLD.acknowledged_at - OLD.created_at, 0),
        ttr_ms = ttr_ms - COALESCE(OLD.resolved_at - OLD.created_at, 0)
    WHERE hour = OLD.created_at - OLD.created_at % 3600000;
END;

CREATE TRIGGER incident_hourly_update AFTER UPDATE OF created_at, acknowledged_at, resolved_at
    ON incidents
    WHEN NEW.drill = 0 AND (OLD.created_at IS NOT NEW.created_at
      OR OLD.acknowledged_at IS NOT NEW.acknowledged_at
      OR OLD.resolved_at IS NOT NEW.resolved_at) BEGIN
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
