-- Matchmaking: live scrims as relational rows (DOMAIN §1), the core member restrictions that
-- queue bans are written to, and the queues between matchmaking and the other services.
--
-- What the database enforces here, so that no interleaving of requests can break it:
--   * one live scrim per player: a unique index on scrim_players(player_id);
--   * capacity: scrims.player_count is kept by triggers and CHECKed against teamSize × teamCount;
--   * group limits: at most teamCount groups per scrim, at most teamSize players per group, the
--     same way (counters kept by triggers, declarative CHECKs);
--   * status values and the shape of each status (enums and CHECKs).
-- The counters' triggers UPDATE the scrim row, so every roster change also takes the scrim's row
-- lock: changes to one scrim are serialised even if a caller forgot to lock it first.
-- Only live scrims are stored: a scrim that completes, is cancelled or empties is deleted (its
-- last state travels in the event), so the tables do not grow with history.

CREATE TYPE matchmaking.scrim_status AS ENUM ('PENDING', 'POPPED', 'IN_PROGRESS', 'LOCKED');
CREATE TYPE matchmaking.scrim_mode AS ENUM ('TEAMS', 'ROUND_ROBIN');

CREATE TABLE matchmaking.scrims (
    id                    uuid PRIMARY KEY,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    status                matchmaking.scrim_status NOT NULL,
    unlocked_status       matchmaking.scrim_status,
    author_id             integer NOT NULL,
    organization_id       integer NOT NULL,
    game_mode_id          integer NOT NULL,
    skill_group_id        integer NOT NULL,
    submission_id         text UNIQUE,
    group_invite_opens_at timestamptz,
    popped_at             timestamptz,
    lobby_name            text,
    lobby_password        text,
    team_size             smallint NOT NULL CHECK (team_size BETWEEN 1 AND 8),
    team_count            smallint NOT NULL CHECK (team_count BETWEEN 2 AND 8),
    mode                  matchmaking.scrim_mode NOT NULL,
    competitive           boolean NOT NULL,
    observable            boolean NOT NULL,
    lfs                   boolean NOT NULL DEFAULT false,
    -- An admin's end-to-end test scrim: empty roster, expects exactly one replay.
    test                  boolean NOT NULL DEFAULT false,
    checkin_timeout_ms    integer NOT NULL CHECK (checkin_timeout_ms BETWEEN 1000 AND 3600000),
    -- Kept by the triggers below; never written by the service.
    player_count          smallint NOT NULL DEFAULT 0,
    group_count           smallint NOT NULL DEFAULT 0,
    -- 0 until the scrim starts, then 3 (DOMAIN §1.4).
    game_count            smallint NOT NULL DEFAULT 0 CHECK (game_count BETWEEN 0 AND 3),
    CONSTRAINT scrim_capacity CHECK (player_count BETWEEN 0 AND team_size * team_count),
    CONSTRAINT scrim_group_limit CHECK (group_count BETWEEN 0 AND team_count),
    CONSTRAINT groups_only_in_teams_mode CHECK (mode = 'TEAMS' OR group_count = 0),
    -- Locking twice must not store LOCKED as the status to restore (a defect of the original).
    CONSTRAINT unlocked_status_only_while_locked
        CHECK ((status = 'LOCKED') = (unlocked_status IS NOT NULL) AND unlocked_status IS DISTINCT FROM 'LOCKED'),
    CONSTRAINT popped_scrims_are_full
        CHECK (status <> 'POPPED' OR player_count = team_size * team_count),
    CONSTRAINT pending_scrims_have_not_popped
        CHECK (status <> 'PENDING' OR (popped_at IS NULL AND submission_id IS NULL AND lobby_name IS NULL)),
    CONSTRAINT running_scrims_have_a_submission
        CHECK (status NOT IN ('POPPED', 'IN_PROGRESS') OR submission_id IS NOT NULL),
    CONSTRAINT lobby_is_name_and_password CHECK ((lobby_name IS NULL) = (lobby_password IS NULL)),
    CONSTRAINT special_scrims_are_lfs_or_test CHECK (NOT (lfs AND test))
);
CREATE INDEX scrims_listing ON matchmaking.scrims (organization_id, status, skill_group_id);
COMMENT ON TABLE matchmaking.scrims IS 'Live scrims only; removed (with an event) when they complete, are cancelled or empty.';

CREATE TABLE matchmaking.scrim_groups (
    scrim_id     uuid NOT NULL REFERENCES matchmaking.scrims ON DELETE CASCADE,
    code         text NOT NULL CHECK (code ~ '^[a-z]{5}$'),
    -- The scrim's team size, copied by a trigger so the limit below is a plain CHECK.
    capacity     smallint NOT NULL,
    member_count smallint NOT NULL DEFAULT 0,
    PRIMARY KEY (scrim_id, code),
    CONSTRAINT group_full CHECK (member_count BETWEEN 0 AND capacity)
);

CREATE TABLE matchmaking.scrim_players (
    scrim_id   uuid NOT NULL REFERENCES matchmaking.scrims ON DELETE CASCADE,
    player_id  integer NOT NULL,
    name       text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 64),
    joined_at  timestamptz NOT NULL,
    leave_at   timestamptz NOT NULL CHECK (leave_at >= joined_at),
    group_code text,
    checked_in boolean NOT NULL DEFAULT false,
    -- Arrival order: the roster is listed as players joined.
    position   bigint GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (scrim_id, player_id),
    CONSTRAINT one_live_scrim_per_player UNIQUE (player_id),
    FOREIGN KEY (scrim_id, group_code) REFERENCES matchmaking.scrim_groups (scrim_id, code)
);

-- The generated line-ups: one row per player per game. Only stored for started scrims.
CREATE TABLE matchmaking.scrim_team_players (
    scrim_id   uuid NOT NULL,
    game_index smallint NOT NULL CHECK (game_index BETWEEN 0 AND 2),
    team_index smallint NOT NULL CHECK (team_index BETWEEN 0 AND 7),
    player_id  integer NOT NULL,
    PRIMARY KEY (scrim_id, game_index, player_id),
    FOREIGN KEY (scrim_id, player_id) REFERENCES matchmaking.scrim_players ON DELETE CASCADE
);

-- Whether an admin (or core's scrims.disabled event) disabled scrims platform-wide. One row.
CREATE TABLE matchmaking.platform_state (
    singleton       boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    scrims_disabled boolean NOT NULL DEFAULT false,
    changed_at      timestamptz NOT NULL DEFAULT now()
);
INSERT INTO matchmaking.platform_state DEFAULT VALUES;

-- Counters. SECURITY INVOKER (the default): they run with the privileges of the service that
-- changed the roster, which holds UPDATE on these tables anyway.
CREATE FUNCTION matchmaking.count_players() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE matchmaking.scrims SET player_count = player_count + 1 WHERE id = NEW.scrim_id;
        IF NEW.group_code IS NOT NULL THEN
            UPDATE matchmaking.scrim_groups SET member_count = member_count + 1
            WHERE scrim_id = NEW.scrim_id AND code = NEW.group_code;
        END IF;
        RETURN NEW;
    END IF;
    -- DELETE. When the whole scrim is being deleted these updates find nothing, which is right.
    UPDATE matchmaking.scrims SET player_count = player_count - 1 WHERE id = OLD.scrim_id;
    IF OLD.group_code IS NOT NULL THEN
        -- A group exists while it has members: the last one out removes it.
        DELETE FROM matchmaking.scrim_groups
        WHERE scrim_id = OLD.scrim_id AND code = OLD.group_code AND member_count = 1;
        UPDATE matchmaking.scrim_groups SET member_count = member_count - 1
        WHERE scrim_id = OLD.scrim_id AND code = OLD.group_code;
    END IF;
    RETURN OLD;
END $$;

CREATE TRIGGER count_players
    AFTER INSERT OR DELETE ON matchmaking.scrim_players
    FOR EACH ROW EXECUTE FUNCTION matchmaking.count_players();

-- Players never change scrim or group once in; the counters rely on it.
CREATE FUNCTION matchmaking.forbid_roster_moves() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'a scrim player cannot move to another scrim or group'
        USING ERRCODE = 'check_violation', CONSTRAINT = 'roster_moves';
END $$;

CREATE TRIGGER forbid_roster_moves
    BEFORE UPDATE OF scrim_id, player_id, group_code ON matchmaking.scrim_players
    FOR EACH ROW
    WHEN (OLD.scrim_id IS DISTINCT FROM NEW.scrim_id OR OLD.player_id IS DISTINCT FROM NEW.player_id
          OR OLD.group_code IS DISTINCT FROM NEW.group_code)
    EXECUTE FUNCTION matchmaking.forbid_roster_moves();

CREATE FUNCTION matchmaking.count_groups() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE matchmaking.scrims SET group_count = group_count + 1 WHERE id = NEW.scrim_id;
        RETURN NEW;
    END IF;
    UPDATE matchmaking.scrims SET group_count = group_count - 1 WHERE id = OLD.scrim_id;
    RETURN OLD;
END $$;

CREATE TRIGGER count_groups
    AFTER INSERT OR DELETE ON matchmaking.scrim_groups
    FOR EACH ROW EXECUTE FUNCTION matchmaking.count_groups();

CREATE FUNCTION matchmaking.group_capacity() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT team_size INTO STRICT NEW.capacity FROM matchmaking.scrims WHERE id = NEW.scrim_id;
    RETURN NEW;
END $$;

CREATE TRIGGER group_capacity
    BEFORE INSERT OR UPDATE OF capacity ON matchmaking.scrim_groups
    FOR EACH ROW EXECUTE FUNCTION matchmaking.group_capacity();

GRANT SELECT, INSERT, UPDATE, DELETE ON matchmaking.scrims, matchmaking.scrim_groups,
    matchmaking.scrim_players, matchmaking.scrim_team_players TO matchmaking;
GRANT SELECT, UPDATE ON matchmaking.platform_state TO matchmaking;

-- Member restrictions (DOMAIN §1.5) are core's records: the core-events service manages them.
-- Matchmaking needs two narrow things: to see whether a player is queue banned, and to write the
-- queue bans of a check-in timeout in the same transaction that cancels the scrim (so a ban can
-- neither be lost nor given twice). Row-level security limits it to QUEUE_BAN rows.
CREATE TABLE core.member_restrictions (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id             integer NOT NULL,
    type                text NOT NULL CHECK (type IN ('QUEUE_BAN', 'RATIFICATION_BAN')),
    reason              text NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    expiration          timestamptz NOT NULL,
    manually_expired_at timestamptz,
    -- The scrim whose check-in timeout caused a queue ban: one ban per player per scrim.
    scrim_id            uuid,
    CONSTRAINT expires_after_creation CHECK (expiration > created_at),
    CONSTRAINT one_ban_per_player_per_scrim UNIQUE (scrim_id, user_id, type)
);
CREATE INDEX member_restrictions_by_user ON core.member_restrictions (user_id, type, expiration);

ALTER TABLE core.member_restrictions ENABLE ROW LEVEL SECURITY;
CREATE POLICY core_events_manages_restrictions ON core.member_restrictions
    FOR ALL TO core_events USING (true) WITH CHECK (true);
CREATE POLICY matchmaking_reads_queue_bans ON core.member_restrictions
    FOR SELECT TO matchmaking USING (type = 'QUEUE_BAN');
CREATE POLICY matchmaking_creates_queue_bans ON core.member_restrictions
    FOR INSERT TO matchmaking WITH CHECK (type = 'QUEUE_BAN');

GRANT SELECT, INSERT, UPDATE ON core.member_restrictions TO core_events;
GRANT USAGE ON SCHEMA core TO matchmaking;
GRANT SELECT, INSERT ON core.member_restrictions TO matchmaking;

-- Queues (pgq.create_queue, V2). Timers of matchmaking itself:
SELECT pgq.create_queue('matchmaking', 'checkin_timeouts', 'matchmaking', ARRAY[]::text[]);
SELECT pgq.create_queue('matchmaking', 'leave_expiries', 'matchmaking', ARRAY[]::text[]);
-- Events matchmaking consumes (scrim.saved and scrims.disabled from core; submission.rejection
-- and submission.reset from submission):
SELECT pgq.create_queue('matchmaking', 'core_events', 'matchmaking', ARRAY['core_events']);
SELECT pgq.create_queue('matchmaking', 'submission_events', 'matchmaking', ARRAY['submission']);
-- Events matchmaking publishes: every scrim topic to core (live views); created, popped and
-- started to notifications; the queue bans it writes to both.
SELECT pgq.create_queue('core', 'scrim_events', 'core_events', ARRAY['matchmaking']);
SELECT pgq.create_queue('notifications', 'scrim_events', 'notifications', ARRAY['matchmaking']);
SELECT pgq.create_queue('core', 'member_events', 'core_events', ARRAY['matchmaking']);
SELECT pgq.create_queue('notifications', 'member_events', 'notifications', ARRAY['matchmaking', 'core_events']);
