-- SLI history: bad and total events per evaluation interval and SLO, so windows, 30-day
-- charts and reports do not depend on Prometheus retention. A missing row means no data
-- (target down, no series); a row with total = 0 means zero traffic.
CREATE TABLE slo_samples (
    slo    TEXT    NOT NULL,
    at     INTEGER NOT NULL,
    bad    REAL    NOT NULL,
    total  REAL    NOT NULL,
    PRIMARY KEY (slo, at)
) STRICT, WITHOUT ROWID;
