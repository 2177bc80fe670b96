-- The alerts of an incident page by state, firing first, without sorting: an incident of
-- a storm holds tens of thousands of them, and no answer is unbounded. New alerts land at
-- the end of their (incident, state) range, so keeping this index costs little.
CREATE INDEX alerts_incident_status_id ON alerts (incident_id, status, id);
