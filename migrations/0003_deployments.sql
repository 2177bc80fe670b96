-- Deployments recorded by CI/CD: markers on charts and context on incident timelines.
CREATE TABLE deployments (
    id           INTEGER PRIMARY KEY,
    service      TEXT    NOT NULL,
    version      TEXT    NOT NULL,
    description  TEXT    NOT NULL DEFAULT '',
    at           INTEGER NOT NULL,
    created_by   TEXT    NOT NULL,
    created_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX deployments_service_at ON deployments (service, at);
CREATE INDEX deployments_at ON deployments (at);
