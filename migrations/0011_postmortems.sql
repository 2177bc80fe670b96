-- Post-mortems: one per incident, a prefilled draft that responders edit, reviewed and
-- published. Sections, metrics and SLO impact are JSON documents.
CREATE TABLE postmortems (
    id            INTEGER PRIMARY KEY,
    incident_id   INTEGER NOT NULL UNIQUE REFERENCES incidents (id) ON DELETE CASCADE,
    status        TEXT    NOT NULL CHECK (status IN ('draft', 'in_review', 'published')),
    title         TEXT    NOT NULL,
    sections      TEXT    NOT NULL,
    metrics       TEXT    NOT NULL,
    slo_impact    TEXT    NOT NULL,
    created_by    TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    published_at  INTEGER
) STRICT;
CREATE INDEX postmortems_status ON postmortems (status, id);
