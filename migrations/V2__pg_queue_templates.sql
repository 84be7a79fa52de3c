-- pg-queue: the one template every queue table is made from.
--
-- A queue is a table in the schema of the service that consumes it, created by a later migration
-- with
--     SELECT pgq.create_queue('<schema>', '<queue>', '<consumer role>', ARRAY['<producer role>', ...]);
-- which creates <schema>.<queue> (pending and in-flight messages) and <schema>.<queue>_dead (dead
-- letters), their indexes, the wake-up trigger, and the grants: the consumer may read, update and
-- delete; producers may only INSERT into the queue table.
--
-- Rows are deleted when acknowledged, never flagged: a drained queue is an empty table.

CREATE SCHEMA pgq;
COMMENT ON SCHEMA pgq IS 'pg-queue: templates and helper functions (no tables of its own).';

-- Wake-up: one NOTIFY per queue per transaction. The trigger is statement-level and the payload is
-- empty, and PostgreSQL folds identical notifications of one transaction into one, so a batch
-- enqueue of 10,000 rows sends one notification.
CREATE FUNCTION pgq.notify_enqueued() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('pgq.' || TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, '');
    RETURN NULL;
END
$$;

CREATE FUNCTION pgq.create_queue(
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
    EXECUTE format(
        'CREATE TRIGGER notify_enqueued AFTER INSERT ON %1$I.%2$I
         FOR EACH STATEMENT EXECUTE FUNCTION pgq.notify_enqueued()',
        queue_schema, queue_name);

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
COMMENT ON FUNCTION pgq.create_queue IS
    'Creates a pg-queue queue table, its dead-letter table, indexes, wake-up trigger and grants.';

-- Periodic jobs (sweeps): a service that runs some creates this table once in its schema. Each
-- run of a job claims its period with one conditional UPDATE, so a period runs once however many
-- replicas try.
CREATE FUNCTION pgq.create_periodic_jobs(queue_schema text, consumer text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format($ddl$
        CREATE TABLE %1$I.periodic_jobs (
            name        text PRIMARY KEY,
            last_period bigint NOT NULL,
            last_run_at timestamptz NOT NULL DEFAULT now()
        )$ddl$, queue_schema);
    EXECUTE format('COMMENT ON TABLE %1$I.periodic_jobs IS %2$L', queue_schema,
        'pg-queue periodic job periods; made by pgq.create_periodic_jobs');
    EXECUTE format('GRANT SELECT, INSERT, UPDATE ON %1$I.periodic_jobs TO %2$I', queue_schema, consumer);
END
$$;

-- Only migrations (the owner) create queues. Service roles need nothing in pgq: a trigger's
-- function is checked when the trigger is created, not each time an insert fires it.
REVOKE EXECUTE ON FUNCTION pgq.create_queue(text, text, text, text[]) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION pgq.create_periodic_jobs(text, text) FROM PUBLIC;
