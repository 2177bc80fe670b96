-- A message of its own for a notification without an incident: the on-call handover
-- ("Anna is now on call until Mon 10:00, secondary Ben"). NULL for incident events and
-- test messages, whose text is made at delivery.
ALTER TABLE notifications ADD COLUMN message TEXT;
