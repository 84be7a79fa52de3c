-- Creates the database roles of the scrim platform and hands the current database to the owner.
--
-- Run it as a superuser, connected to the platform's database. It is idempotent: a second run
-- only resets the passwords. Passwords are read from settings so that this file holds no secret
-- and works the same from psql (deploy/provision-roles.sh) and from Rust (db::provision_roles):
--
--   provision.scrim_owner_password    the migration owner (runs `<service> migrate`)
--   provision.matchmaking_password    \
--   provision.submission_password      | one LOGIN role per service
--   provision.notifications_password   |
--   provision.core_events_password    /
--
-- Roles are cluster-wide: provisioning several databases of one cluster sets the same passwords.
-- Privileges on tables are granted by the migrations, not here, so that they are versioned with
-- the tables they protect.
DO $provision$
DECLARE
    role_name text;
    password text;
BEGIN
    FOREACH role_name IN ARRAY ARRAY['scrim_owner', 'matchmaking', 'submission', 'notifications', 'core_events']
    LOOP
        password := current_setting('provision.' || role_name || '_password', true);
        IF password IS NULL OR password = '' THEN
            RAISE EXCEPTION 'provision.%_password is not set', role_name;
        END IF;
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = role_name) THEN
            EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L', role_name, password);
        ELSE
            EXECUTE format('ALTER ROLE %I LOGIN PASSWORD %L', role_name, password);
        END IF;
        -- No role of ours needs more than a plain login: say so explicitly, so that a role that
        -- someone widened by hand is narrowed again on the next provisioning.
        EXECUTE format(
            'ALTER ROLE %I NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT',
            role_name
        );
    END LOOP;

    -- The owner owns the database, so it can create the schemas, and (since PostgreSQL 15) owns
    -- the public schema where refinery keeps its history table.
    EXECUTE format('ALTER DATABASE %I OWNER TO scrim_owner', current_database());
    -- Nobody but the owner creates objects in public.
    REVOKE CREATE ON SCHEMA public FROM PUBLIC;
    -- Temporary tables would let a service role create objects outside the matrix.
    EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
END
$provision$;
