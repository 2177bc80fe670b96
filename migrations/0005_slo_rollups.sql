-- Hourly rollups of slo_samples: the period window (30 days) and long charts sum at most
-- ~744 rows per SLO instead of 86,400, and per-interval rows can be dropped sooner
-- (evaluation.raw_history_retention) than the rollups (evaluation.history_retention).
-- `samples` counts the per-interval rows summed in, so "no data" stays distinguishable
-- from zero traffic.
CREATE TABLE slo_hourly (
    slo     TEXT    NOT NULL,
    hour    INTEGER NOT NULL,
    bad     REAL    NOT NULL,
    total   REAL    NOT NULL,
    samples INTEGER NOT NULL,
    PRIMARY KEY (slo, hour)
) STRICT, WITHOUT ROWID;

INSERT INTO slo_hourly (slo, hour, bad, total, samples)
SELECT slo, at - at % 3600000, SUM(bad), SUM(total), COUNT(*)
FROM slo_samples GROUP BY slo, at - at % 3600000;

-- Latency percentiles of latency SLIs in each interval, interpolated from the histogram
-- buckets' increase as histogram_quantile does (in the histogram's unit).
ALTER TABLE slo_samples ADD COLUMN p50 REAL;
ALTER TABLE slo_samples ADD COLUMN p90 REAL;
ALTER TABLE slo_samples ADD COLUMN p99 REAL;
