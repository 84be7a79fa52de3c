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

-- Queues created from now on: V2's create_queue makes the tables, indexes and grants (renamed,
-- not copied, so the table layout is defined once), then its trigger is replaced by the new one.
ALTER FUNCTION pgq.create_queue(text, text, text, text[]) RENAME TO create_queue_tables;
COMMENT ON FUNCTION pgq.create_queue_tables IS
    'V2''s pgq.create_queue: tables, indexes, grants and a V2 wake-up trigger; use pgq.create_queue.';

CREATE FUNCTION pgq.create_queue(
    queue_schema text,
    queue_name text,
    consumer text,
    producers text[] DEFAULT '{}'
) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pgq.create_queue_tables(queue_schema, queue_name, consumer, producers);
    PERFORM pgq.create_wakeup_trigger(queue_schema, queue_name);
END
$$;
COMMENT ON FUNCTION pgq.create_queue IS
    'Creates a pg-queue queue table, its dead-letter table, indexes, wake-up trigger and grants.';
REVOKE EXECUTE ON FUNCTION pgq.create_queue(text, text, text, text[]) FROM PUBLIC;
