-- One schema per service, owned by the migration owner (scrim_owner, who runs this file).
--
-- The service LOGIN roles are created by deploy/provision-roles.sql before the first migration.
-- A service role gets USAGE on its own schema only; table privileges are granted table by table
-- in the migration that creates the table, and the privilege-matrix test
-- (crates/test-db/tests/privileges.rs) pins every one of them.

CREATE SCHEMA matchmaking;
CREATE SCHEMA submission;
CREATE SCHEMA core;
CREATE SCHEMA notifications;

COMMENT ON SCHEMA matchmaking IS 'Scrims, players, groups, and the matchmaking service''s incoming queues.';
COMMENT ON SCHEMA submission IS 'Replay submissions, and the submission service''s incoming queues.';
COMMENT ON SCHEMA core IS 'Core domain records (member restrictions, saved results), and the core-events service''s incoming queues.';
COMMENT ON SCHEMA notifications IS 'Delivery records, and the notifications service''s incoming queues.';

GRANT USAGE ON SCHEMA matchmaking TO matchmaking;
GRANT USAGE ON SCHEMA submission TO submission;
GRANT USAGE ON SCHEMA core TO core_events;
GRANT USAGE ON SCHEMA notifications TO notifications;

-- Every service checks at start-up that the schema has all the migrations it was built with.
-- Read-only: only the owner writes the history.
GRANT SELECT ON TABLE public.refinery_schema_history TO matchmaking, submission, notifications, core_events;
