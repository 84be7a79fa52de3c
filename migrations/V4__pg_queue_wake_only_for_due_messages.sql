-- pg-queue wake-ups say when the new messages are due, so that scheduling a message far ahead
-- (a player's leave timer, due in hours) no longer wakes every consumer slot for an empty claim.
--
-- The payload is empty when a new message is due at once, and otherwise the whole seconds until
-- the earliest new message is due (rounded up). The listener wakes the slots only when that is
-- within the queue's poll interval: a slot never sleeps longer than its poll interval and reads
-- the next due time whenever it wakes, so it finds later messages on time by itself.
-- A statement that inserted nothing (ON CONFLICT DO NOTHING on a dedup key) sends nothing.

CREATE OR REPLACE FUNCTION pgq.notify_enqueued() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    due_in double precision;
BEGIN
    SELECT extract(epoch FROM min(run_at) - now()) INTO due_in FROM enqueued;
    IF due_in IS NOT NULL THEN
        PERFORM pg_notify('pgq.' || TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME,
                          CASE WHEN due_in <= 0 THEN '' ELSE ceil(due_in)::bigint::text END);
    END IF;
    RETURN NULL;
END
$$;

-- The function reads the inserted rows, so each queue's trigger now names them `enqueued`.
CREATE FUNCTION pgq.create_wakeup_trigger(queue_schema text, queue_name text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('DROP TRIGGER IF EXISTS notify_enqueued ON %1$I.%2$I', queue_schema, queue_name);
    EXECUTE format(
        'CREATE TRIGGER notify_enqueued AFTER INSERT ON %1$I.%2$I
         REFERENCING NEW TABLE AS enqueued
         FOR EACH STATEMENT EXECUTE FUNCTION pgq.notify_enqueued()',
        queue_schema, queue_name);
END
$$;
REVOKE EXECUTE ON FUNCTION pgq.create_wakeup_trigger(text, text) FROM PUBLIC;

-- Queues that already exist.
SELECT pgq.create_wakeup_trigger(n.nspname, c.relname)
FROM pg_trigger t
JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE t.tgname = 'notify_enqueued' AND NOT t.tgisinternal;

-- Queues created from now on: create_queue as in V2, with the new trigger.
CREATE OR REPLACE FUNCTION pgq.create_queue(
    queue_schema text,
    queue_name text,
    consumer text,
    producers text[] DEFAULT '{}'
) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    producer text;
BEGIN
    IF queue_name !~ '^[a-z][a-z0-9_]{0,40}$' THEN
        RAISE EXCEPTION 'queue name % must be lowercase letters, digits and underscores', queue_name;
    END IF;

    EXECUTE format($ddl$
        CREATE TABLE %1$I.%2$I (
            id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            payload     jsonb NOT NULL,
            -- At most one pending message per key (scrim check-in timers, for example).
            dedup_key   text,
            -- When the message becomes visible: enqueue time, schedule time, retry time, or
            -- (while a worker holds it) the end of its lease.
            run_at      timestamptz NOT NULL DEFAULT now(),
            -- Claims so far; also the fencing token of the current claim.
            attempts    integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
            -- Set by a claim, cleared when a failure reschedules: tells in-flight from waiting.
            claimed_at  timestamptz,
            last_error  text,
            enqueued_at timestamptz NOT NULL DEFAULT now()
        )$ddl$, queue_schema, queue_name);
    -- The claim scans this index from the start: visible messages first, in order.
    EXECUTE format('CREATE INDEX %2$I ON %1$I.%3$I (run_at, id)',
        queue_schema, queue_name || '_run_at', queue_name);
    EXECUTE format('CREATE UNIQUE INDEX %2$I ON %1$I.%3$I (dedup_key) WHERE dedup_key IS NOT NULL',
        queue_schema, queue_name || '_dedup_key', queue_name);
    PERFORM pgq.create_wakeup_trigger(queue_schema, queue_name);

    EXECUTE format($ddl$
        CREATE TABLE %1$I.%2$I (
            id          bigint PRIMARY KEY,
            payload     jsonb NOT NULL,
            dedup_key   text,
            attempts    integer NOT NULL,
            last_error  text,
            enqueued_at timestamptz NOT NULL,
            dead_at     timestamptz NOT NULL DEFAULT now()
        )$ddl$, queue_schema, queue_name || '_dead');

    EXECUTE format('COMMENT ON TABLE %1$I.%2$I IS %3$L', queue_schema, queue_name,
        'pg-queue queue consumed by ' || consumer || '; made by pgq.create_queue');
    EXECUTE format('COMMENT ON TABLE %1$I.%2$I IS %3$L', queue_schema, queue_name || '_dead',
        'pg-queue dead letters of ' || queue_schema || '.' || queue_name);

    EXECUTE format('GRANT USAGE ON SCHEMA %1$I TO %2$I', queue_schema, consumer);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %1$I.%2$I, %1$I.%3$I TO %4$I',
        queue_schema, queue_name, queue_name || '_dead', consumer);
    FOREACH producer IN ARRAY producers LOOP
        EXECUTE format('GRANT USAGE ON SCHEMA %1$I TO %2$I', queue_schema, producer);
        EXECUTE format('GRANT INSERT ON %1$I.%2$I TO %3$I', queue_schema, queue_name, producer);
    END LOOP;
END
$$;
