-- pg-queue 2: queue control (pause, rate limit, retention), per-message expiry, and a dedup key
-- that blocks only messages that are waiting.
--
-- 1. Dedup keys. Until now the unique index on dedup_key covered every row, claimed ones too, so
--    a timer being handled (or in flight, or whose worker died) silently swallowed the next
--    message with its key. The key now blocks only messages that are *waiting* (not claimed):
--    the index is partial on `claimed_at IS NULL`. A claim sets claimed_at (the row leaves the
--    index), a retry or a release clears it (the row comes back). A producer's enqueue therefore
--    never conflicts with, and never waits for, a message that is being handled.
-- 2. Expiry. `expires_at` (NULL: never): a message still unstarted at that time is dropped by
--    the next claim that reaches it, unhandled, and counted (live-view events lose their value
--    in seconds).
-- 3. Control. One `queue_state` table per service schema, one row per queue: the pause
--    (`paused_until`, which claims respect; 'infinity' for an operator's pause), the token bucket
--    of a cross-replica rate limit (`tokens`, `tokens_at`), and when its dead letters were last
--    purged (`dead_purged_at`, so that one replica purges per period). The consumer may read and
--    update it; rows are made here and by pgq.create_queue, never by services.
-- 4. NOTIFY channel names are identifiers (at most 63 bytes): `pgq.<schema>.<queue>` longer than
--    that made every insert into the queue fail. create_queue now refuses such names.

CREATE FUNCTION pgq.create_queue_state(queue_schema text, consumer text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format($ddl$
        CREATE TABLE IF NOT EXISTS %1$I.queue_state (
            queue          text PRIMARY KEY,
            paused_until   timestamptz,
            tokens         double precision,
            tokens_at      timestamptz,
            dead_purged_at timestamptz
        )$ddl$, queue_schema);
    EXECUTE format('COMMENT ON TABLE %1$I.queue_state IS %2$L', queue_schema,
        'pg-queue control of the queues in this schema (pause, rate limit, retention); made by pgq.create_queue_state');
    EXECUTE format('GRANT USAGE ON SCHEMA %1$I TO %2$I', queue_schema, consumer);
    EXECUTE format('GRANT SELECT, UPDATE ON %1$I.queue_state TO %2$I', queue_schema, consumer);
END
$$;
REVOKE EXECUTE ON FUNCTION pgq.create_queue_state(text, text) FROM PUBLIC;

-- Brings one queue made by an earlier create_queue to this version: the waiting-only dedup
-- index, the expiry column, and its control row.
CREATE FUNCTION pgq.upgrade_queue(queue_schema text, queue_name text, consumer text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('DROP INDEX IF EXISTS %1$I.%2$I', queue_schema, queue_name || '_dedup_key');
    EXECUTE format(
        'CREATE UNIQUE INDEX %2$I ON %1$I.%3$I (dedup_key)
         WHERE dedup_key IS NOT NULL AND claimed_at IS NULL',
        queue_schema, queue_name || '_dedup_key', queue_name);
    EXECUTE format('ALTER TABLE %1$I.%2$I ADD COLUMN IF NOT EXISTS expires_at timestamptz',
        queue_schema, queue_name);
    PERFORM pgq.create_queue_state(queue_schema, consumer);
    EXECUTE format('INSERT INTO %1$I.queue_state (queue) VALUES (%2$L) ON CONFLICT DO NOTHING',
        queue_schema, queue_schema || '.' || queue_name);
END
$$;
REVOKE EXECUTE ON FUNCTION pgq.upgrade_queue(text, text, text) FROM PUBLIC;

-- The control tables exist in every service schema, with or without queues yet, so that the
-- privilege matrix is the same before and after a service creates its first queue.
SELECT pgq.create_queue_state('matchmaking', 'matchmaking');
SELECT pgq.create_queue_state('submission', 'submission');
SELECT pgq.create_queue_state('notifications', 'notifications');
SELECT pgq.create_queue_state('core', 'core_events');

-- Queues that already exist (recognised by the comment create_queue gives them).
SELECT pgq.upgrade_queue(n.nspname, c.relname,
                         substring(obj_description(c.oid, 'pg_class') FROM 'consumed by (.*); made by'))
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r'
  AND obj_description(c.oid, 'pg_class') LIKE 'pg-queue queue consumed by %';

-- Queues created from now on.
CREATE OR REPLACE FUNCTION pgq.create_queue(
    queue_schema text,
    queue_name text,
    consumer text,
    producers text[] DEFAULT '{}'
) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF octet_length('pgq.' || queue_schema || '.' || queue_name) > 63 THEN
        RAISE EXCEPTION 'queue %.%: its wake-up channel pgq.%.% would exceed 63 bytes',
            queue_schema, queue_name, queue_schema, queue_name;
    END IF;
    PERFORM pgq.create_queue_tables(queue_schema, queue_name, consumer, producers);
    PERFORM pgq.create_wakeup_trigger(queue_schema, queue_name);
    PERFORM pgq.upgrade_queue(queue_schema, queue_name, consumer);
END
$$;
REVOKE EXECUTE ON FUNCTION pgq.create_queue(text, text, text, text[]) FROM PUBLIC;
