-- Matchmaking 2: every change to a scrim is one server-side function, so a request costs one
-- round trip (the statement is its own transaction) instead of eleven to fifteen.
--
-- Why in the database: a join used to be BEGIN, the row lock, the admission checks, the insert,
-- the timer, a touch, the read, two publishes, the metrics, COMMIT; each a round trip through a
-- saturated machine. Each function below does the same work server-side, in the order the Rust
-- operations did: lock the scrim's row (FOR UPDATE), check the rules (DOMAIN §1.3), write, arm or
-- disarm its timers, publish its events, and return the scrim in its contract shape (DOMAIN
-- §1.1). The Rust side keeps what needs no database: parsing and validating the request, who may
-- act for whom, randomness (group codes, teams, lobbies), and the HTTP answer.
--
-- Rules answer with SQLSTATE MM001: MESSAGE is the contract's error name, DETAIL the message for
-- the client (matchmaking's error.rs maps it). MM002 asks the caller to try again with another
-- random value (a group code the scrim already has). Constraint violations keep their names,
-- which error.rs maps as before.
--
-- Every function is SECURITY INVOKER (the default): it runs with the matchmaking role's own
-- privileges, so it can do nothing the role could not do statement by statement.
--
-- Defects fixed here, each with its test in services/matchmaking/tests/api:
--   * a join waiting on the transaction that bans its player lands the instant the ban commits
--     (bans.rs): the ban is checked again after the insert, which waits for that transaction;
--   * the scrim cancelled by its only player's leaveAt carried an empty roster (timers.rs);
--   * a second group moved the invite window, and the window outlived the last group
--     (groups.rs); a group in a 1v1 is refused;
--   * metrics were computed inside each write, blind to the others (events.rs): they are now
--     computed after commit by publish_metrics, at most once per interval across replicas.

---------------------------------------------------------------------------------------------
-- Building blocks
---------------------------------------------------------------------------------------------

-- A popped scrim's current check-in deadline: set when it pops, and again (a fresh full window)
-- when an admin unlocks it back to POPPED. Its check-in timer acts only on this deadline. NULL
-- otherwise, and for scrims popped by the release before this one (whose timers carry no
-- deadline and keep the old rule).
ALTER TABLE matchmaking.scrims ADD COLUMN checkin_deadline timestamptz;

-- A rule violation: the contract's error name and a message for the client.
CREATE FUNCTION matchmaking.fail(error_name text, message text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'MM001', MESSAGE = error_name, DETAIL = message;
END $$;

-- Timestamps as the contract spells them: ISO 8601 in UTC with microseconds, whatever the
-- session's time zone.
CREATE FUNCTION matchmaking.utc(at timestamptz) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

-- A ScrimPlayer (DOMAIN §1.1).
CREATE FUNCTION matchmaking.player_json(p matchmaking.scrim_players) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'id', p.player_id, 'name', p.name, 'joinedAt', matchmaking.utc(p.joined_at),
        'leaveAt', matchmaking.utc(p.leave_at), 'group', p.group_code, 'checkedIn', p.checked_in))
$$;

-- A Scrim (DOMAIN §1.1), read by one statement: row, roster (in arrival order) and games (team by
-- team, each player whole). Absent optional fields are left out, as the Rust type serialises.
--
-- Why PL/pgSQL for what is one query: PostgreSQL 15 plans the body of a LANGUAGE sql function
-- again at every call (0.6 ms here for this one, ten times its execution), while PL/pgSQL keeps
-- its plans for the session. The small helpers it calls (utc, player_json) stay SQL: they are
-- inlined into this plan. The same goes for every helper below that runs a query.
CREATE FUNCTION matchmaking.scrim_json(s matchmaking.scrims) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN jsonb_strip_nulls(jsonb_build_object(
        'id', s.id,
        'createdAt', matchmaking.utc(s.created_at),
        'updatedAt', matchmaking.utc(s.updated_at),
        'status', s.status,
        'unlockedStatus', s.unlocked_status,
        'authorId', s.author_id,
        'organizationId', s.organization_id,
        'gameModeId', s.game_mode_id,
        'skillGroupId', s.skill_group_id,
        'submissionId', s.submission_id,
        'groupInviteOpensAt', matchmaking.utc(s.group_invite_opens_at),
        'poppedAt', matchmaking.utc(s.popped_at),
        'players', coalesce(
            (SELECT jsonb_agg(matchmaking.player_json(p) ORDER BY p.position)
               FROM matchmaking.scrim_players p WHERE p.scrim_id = s.id), '[]'::jsonb),
        -- The series have constant bounds (the most games and teams a scrim can have) so that
        -- the planner knows how few rows they give: with the scrim's own counts it assumes a
        -- thousand rows each, and the cost it then estimates switches JIT compilation on, which
        -- took 0.4 s per call.
        'games', coalesce(
            (SELECT jsonb_agg(jsonb_build_object('teams',
                 (SELECT jsonb_agg(jsonb_build_object('players', coalesce(
                      (SELECT jsonb_agg(matchmaking.player_json(p) ORDER BY p.position)
                         FROM matchmaking.scrim_team_players t
                         JOIN matchmaking.scrim_players p USING (scrim_id, player_id)
                        WHERE t.scrim_id = s.id AND t.game_index = game AND t.team_index = team),
                      '[]'::jsonb)) ORDER BY team)
                    FROM generate_series(0, 7) AS team WHERE team < s.team_count)) ORDER BY game)
               FROM generate_series(0, 2) AS game WHERE game < s.game_count), '[]'::jsonb),
        'lobby', CASE WHEN s.lobby_name IS NOT NULL
                      THEN jsonb_build_object('name', s.lobby_name, 'password', s.lobby_password) END,
        'settings', jsonb_build_object(
            'teamSize', s.team_size, 'teamCount', s.team_count, 'mode', s.mode,
            'competitive', s.competitive, 'observable', s.observable, 'lfs', s.lfs,
            'checkinTimeout', s.checkin_timeout_ms)));
END $$;

-- The live counts (DOMAIN §1.1): PENDING scrims are queued players, every other live scrim
-- scrimming players.
CREATE FUNCTION matchmaking.metrics() RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT jsonb_build_object(
        'pendingScrims', count(*) FILTER (WHERE status = 'PENDING'),
        'totalScrims', count(*),
        'playersQueued', coalesce(sum(player_count) FILTER (WHERE status = 'PENDING'), 0),
        'playersScrimming', coalesce(sum(player_count) FILTER (WHERE status <> 'PENDING'), 0),
        'totalPlayers', coalesce(sum(player_count), 0))
    FROM matchmaking.scrims);
END $$;

-- Publishes one event (DOMAIN §5) into the queue of each subscriber of its topic, in the caller's
-- transaction. The subscribers, as matchmaking's events.rs documents them: core keeps live views
-- of every scrim topic; notifications tells players about created, popped and started scrims,
-- and about queue bans.
CREATE FUNCTION matchmaking.publish(topic text, payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    envelope jsonb := jsonb_build_object('topic', topic, 'payload', payload);
BEGIN
    IF topic = 'member.restrictionCreated' THEN
        INSERT INTO core.member_events (payload) VALUES (envelope);
        INSERT INTO notifications.member_events (payload) VALUES (envelope);
        RETURN;
    END IF;
    INSERT INTO core.scrim_events (payload) VALUES (envelope);
    IF topic IN ('scrim.created', 'scrim.popped', 'scrim.started') THEN
        INSERT INTO notifications.scrim_events (payload) VALUES (envelope);
    END IF;
END $$;

-- Reads the scrim as it now is, announces it under `topic` (a start is announced as
-- scrim.updated, then scrim.started: DOMAIN §1.2), and returns it.
CREATE FUNCTION matchmaking.announce(scrim_id uuid, topic text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    scrim jsonb;
BEGIN
    SELECT matchmaking.scrim_json(s) INTO scrim FROM matchmaking.scrims s WHERE s.id = scrim_id;
    IF topic = 'scrim.started' THEN
        PERFORM matchmaking.publish('scrim.updated', scrim);
    END IF;
    PERFORM matchmaking.publish(topic, scrim);
    RETURN scrim;
END $$;

-- Locks a scrim's row until the transaction ends: every change to a scrim starts here, so the
-- changes of one scrim run one after another.
CREATE FUNCTION matchmaking.lock_scrim_row(scrim_id uuid) RETURNS matchmaking.scrims
LANGUAGE plpgsql AS $$
DECLARE
    s matchmaking.scrims;
BEGIN
    SELECT * INTO s FROM matchmaking.scrims WHERE id = scrim_id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM matchmaking.fail('ScrimNotFound', format('no live scrim %s', scrim_id));
    END IF;
    RETURN s;
END $$;

---------------------------------------------------------------------------------------------
-- Timers: rows in matchmaking's own pg-queue queues, written as pg-queue writes them (payload,
-- dedup key, run_at), and disarmed without ever waiting on a message a worker is handling
-- (SKIP LOCKED): the worker's handler re-checks the scrim under its row lock, so a timer that is
-- already being handled needs no disarming, and waiting for it is what deadlocked a request
-- against the timer's worker.
---------------------------------------------------------------------------------------------

-- Arms the check-in timer for `deadline`, replacing a waiting one (still scheduled, or in backoff
-- after a failed attempt): a re-armed scrim gets its new deadline, never the old one. The
-- payload names the deadline, and the handler acts only on the scrim's current one, so a timer
-- that was already being handled (or is retried later) cannot cancel a scrim on an old deadline.
CREATE FUNCTION matchmaking.arm_check_in(scrim_id uuid, submission_id text, deadline timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM matchmaking.disarm_check_in(scrim_id);
    INSERT INTO matchmaking.checkin_timeouts (payload, dedup_key, run_at)
    VALUES (jsonb_build_object('scrimId', scrim_id, 'submissionId', submission_id,
                               'deadline', matchmaking.utc(deadline)),
            scrim_id::text, deadline)
    ON CONFLICT DO NOTHING;
END $$;

CREATE FUNCTION matchmaking.disarm_check_in(scrim_id uuid) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM matchmaking.checkin_timeouts
    WHERE id IN (SELECT id FROM matchmaking.checkin_timeouts
                 WHERE dedup_key = scrim_id::text FOR UPDATE SKIP LOCKED);
END $$;

CREATE FUNCTION matchmaking.arm_leave(scrim_id uuid, player_id integer, leave_at timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO matchmaking.leave_expiries (payload, dedup_key, run_at)
    VALUES (jsonb_build_object('scrimId', scrim_id, 'playerId', player_id,
                               'leaveAt', matchmaking.utc(leave_at)),
            scrim_id::text || ':' || player_id, leave_at)
    ON CONFLICT DO NOTHING;
END $$;

CREATE FUNCTION matchmaking.disarm_leaves(scrim_id uuid, player_ids integer[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM matchmaking.leave_expiries
    WHERE id IN (SELECT id FROM matchmaking.leave_expiries
                 WHERE dedup_key = ANY (SELECT scrim_id::text || ':' || unnest(player_ids))
                 FOR UPDATE SKIP LOCKED);
END $$;

---------------------------------------------------------------------------------------------
-- Rules shared by several operations
---------------------------------------------------------------------------------------------

-- Whether a player has a queue ban in force in an organization (DOMAIN §1.5: a ban belongs to the
-- member of one organization and blocks that organization's scrims only). Bans written before
-- V6 gave restrictions an organization have none: they keep blocking every organization, as
-- they did when they were given, until they run out.
CREATE FUNCTION matchmaking.queue_banned(player_id integer, organization_id integer)
RETURNS boolean LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN EXISTS (SELECT 1 FROM core.member_restrictions r
                   WHERE r.user_id = player_id AND r.type = 'QUEUE_BAN'
                     AND (r.organization_id = queue_banned.organization_id OR r.organization_id IS NULL)
                     AND r.expiration > now() AND r.manually_expired_at IS NULL);
END $$;

-- An organization's value of a numeric setting (core's configuration, read through the view core
-- publishes: DOMAIN §8), or `fallback` when core does not know the organization.
CREATE FUNCTION matchmaking.organization_setting(organization_id integer, key text, fallback numeric)
RETURNS numeric LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN coalesce(
        (SELECT o.value::numeric FROM core.organization_settings o
         WHERE o.organization_id = organization_setting.organization_id
           AND o.key = organization_setting.key),
        fallback);
END $$;

-- What every create and join checks before touching a scrim (DOMAIN §1.2, §1.3, §1.5).
CREATE FUNCTION matchmaking.admit(
    player_id integer, organization_id integer, scrim_skill_group integer, competitive boolean,
    player_skill_group integer)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT scrims_disabled FROM matchmaking.platform_state) THEN
        PERFORM matchmaking.fail('ScrimsDisabled', 'scrims are disabled right now');
    END IF;
    IF matchmaking.queue_banned(player_id, organization_id) THEN
        PERFORM matchmaking.fail('PlayerQueueBanned', 'the player is queue banned in this organization');
    END IF;
    IF competitive AND player_skill_group IS DISTINCT FROM scrim_skill_group THEN
        PERFORM matchmaking.fail('ScrimSkillGroupMismatch',
            'a competitive scrim only takes players of its skill group (send skillGroupId)');
    END IF;
END $$;

-- Groups exist only in TEAMS mode (DOMAIN §1.3), and only where a team has room for more than
-- one player: in a 1v1 every "group" would be a team of one.
CREATE FUNCTION matchmaking.check_groups_allowed(mode matchmaking.scrim_mode, team_size smallint)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF mode <> 'TEAMS' THEN
        PERFORM matchmaking.fail('ScrimGroupNotSupportedInMode', 'groups exist only in TEAMS mode');
    END IF;
    IF team_size < 2 THEN
        PERFORM matchmaking.fail('ScrimGroupNotSupportedInMode',
            'a group needs teams of at least two players; this scrim''s teams have one');
    END IF;
END $$;

-- Creates a group with the caller's code. The first group of a scrim opens the invite window
-- (only grouped joins for `window_secs`); later groups leave it as it is. A code the scrim
-- already uses answers MM002, and the caller tries another.
CREATE FUNCTION matchmaking.create_group(s matchmaking.scrims, code text, window_secs integer)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF s.group_count >= s.team_count THEN
        PERFORM matchmaking.fail('MaxGroupsCreated', 'the scrim has as many groups as teams');
    END IF;
    INSERT INTO matchmaking.scrim_groups (scrim_id, code, capacity) VALUES (s.id, code, 0)
    ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'MM002', MESSAGE = 'group code taken',
            DETAIL = 'the scrim already has a group with this code; try another';
    END IF;
    IF s.group_count = 0 THEN
        UPDATE matchmaking.scrims
        SET group_invite_opens_at = now() + make_interval(secs => window_secs)
        WHERE id = s.id;
    END IF;
END $$;

-- Adds a player (the counter trigger takes the scrim's row lock and stamps updated_at) and, for
-- a queue (not an LFS lobby, which is running already), arms their leaveAt timer.
--
-- The queue ban is checked again after the insert. A player who was in a scrim that a check-in
-- timeout is cancelling still has their roster row until that transaction commits, and the
-- insert waits on it (the one-live-scrim unique index). When it commits, the ban it wrote is
-- visible to the next statement: without this check, the join landed the instant the ban did.
CREATE FUNCTION matchmaking.add_player(
    scrim_id uuid, organization_id integer, player_id integer, name text, leave_after integer,
    group_code text, queued boolean)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    leaves timestamptz;
BEGIN
    INSERT INTO matchmaking.scrim_players (scrim_id, player_id, name, joined_at, leave_at, group_code)
    VALUES (scrim_id, player_id, name, now(), now() + make_interval(secs => leave_after), group_code)
    RETURNING leave_at INTO leaves;
    IF matchmaking.queue_banned(player_id, organization_id) THEN
        PERFORM matchmaking.fail('PlayerQueueBanned', 'the player is queue banned in this organization');
    END IF;
    IF queued THEN
        PERFORM matchmaking.arm_leave(scrim_id, player_id, leaves);
    END IF;
END $$;

-- Removes a scrim from the live set and announces it with its final status, which is never
-- stored (EMPTY, CANCELLED, COMPLETE). The announced scrim is read before the delete, so it
-- carries the roster it had.
CREATE FUNCTION matchmaking.remove_scrim(scrim_id uuid, final_status text, topic text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    scrim jsonb;
    players integer[];
BEGIN
    SELECT matchmaking.scrim_json(s) - 'unlockedStatus'
               || jsonb_build_object('status', final_status, 'updatedAt', matchmaking.utc(now())),
           (SELECT coalesce(array_agg(p.player_id), '{}') FROM matchmaking.scrim_players p
             WHERE p.scrim_id = s.id)
      INTO scrim, players
      FROM matchmaking.scrims s WHERE s.id = remove_scrim.scrim_id;
    DELETE FROM matchmaking.scrims WHERE id = scrim_id;
    PERFORM matchmaking.disarm_check_in(scrim_id);
    PERFORM matchmaking.disarm_leaves(scrim_id, players);
    PERFORM matchmaking.publish(topic, scrim);
    RETURN scrim;
END $$;

-- Takes a player out of a PENDING scrim (already locked by the caller). When they were the last
-- one: a leave removes the scrim as EMPTY (`scrim.destroyed`, no players left in it); an expired
-- leaveAt removes it as CANCELLED (`scrim.cancelled`, naming the player whose time ran out).
CREATE FUNCTION matchmaking.remove_player(s matchmaking.scrims, player_id integer, expired boolean)
RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM matchmaking.scrim_players p
                   WHERE p.scrim_id = s.id AND p.player_id = remove_player.player_id) THEN
        PERFORM matchmaking.fail('PlayerNotInScrim', 'the player is not in this scrim');
    END IF;
    IF s.player_count = 1 AND expired THEN
        RETURN matchmaking.remove_scrim(s.id, 'CANCELLED', 'scrim.cancelled');
    END IF;
    DELETE FROM matchmaking.scrim_players p WHERE p.scrim_id = s.id AND p.player_id = remove_player.player_id;
    PERFORM matchmaking.disarm_leaves(s.id, ARRAY[player_id]);
    IF s.player_count = 1 THEN
        RETURN matchmaking.remove_scrim(s.id, 'EMPTY', 'scrim.destroyed');
    END IF;
    RETURN matchmaking.announce(s.id, 'scrim.updated');
END $$;

---------------------------------------------------------------------------------------------
-- The operations (DOMAIN §1.2). Each returns the scrim after the change, as announced.
---------------------------------------------------------------------------------------------

-- The check-in timeout of a new scrim of an organization, in milliseconds (DOMAIN §1.5:
-- SCRIM_QUEUE_BAN_CHECKIN_TIMEOUT_MINUTES), else the service's default.
CREATE FUNCTION matchmaking.checkin_timeout_ms(organization_id integer, fallback_ms integer)
RETURNS integer LANGUAGE plpgsql STABLE AS $$
BEGIN
    -- Core bounds the setting to 1-60 minutes; the clamp keeps the scrim's CHECK whatever it holds.
    RETURN greatest(1000, least(3600000, round(60000 * matchmaking.organization_setting(
        organization_id, 'SCRIM_QUEUE_BAN_CHECKIN_TIMEOUT_MINUTES', fallback_ms / 60000.0))))::integer;
END $$;

-- Creates a PENDING scrim whose author is its first player (optionally creating a group), or an
-- LFS scrim: IN_PROGRESS at once, submission `lfs-<id>`, three placeholder games in which the
-- author is on the team they chose. `checkin_timeout_ms` is the service's default, for an
-- organization core does not know.
CREATE FUNCTION matchmaking.create_scrim(
    id uuid, lfs boolean, author_id integer, organization_id integer, game_mode_id integer,
    skill_group_id integer, team_size smallint, team_count smallint, mode matchmaking.scrim_mode,
    competitive boolean, observable boolean, checkin_timeout_ms integer,
    player_id integer, player_name text, leave_after integer, player_skill_group integer,
    group_code text, lfs_team smallint, invite_window_secs integer)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    s matchmaking.scrims;
BEGIN
    PERFORM matchmaking.admit(player_id, organization_id, skill_group_id, competitive, player_skill_group);
    IF group_code IS NOT NULL THEN
        PERFORM matchmaking.check_groups_allowed(mode, team_size);
    END IF;
    INSERT INTO matchmaking.scrims (id, status, author_id, organization_id, game_mode_id,
        skill_group_id, submission_id, team_size, team_count, mode, competitive, observable, lfs,
        checkin_timeout_ms, game_count)
    VALUES (create_scrim.id, CASE WHEN lfs THEN 'IN_PROGRESS' ELSE 'PENDING' END::matchmaking.scrim_status,
        author_id, organization_id, game_mode_id, skill_group_id,
        CASE WHEN lfs THEN 'lfs-' || create_scrim.id END, team_size, team_count, mode,
        competitive, observable, lfs,
        matchmaking.checkin_timeout_ms(organization_id, checkin_timeout_ms),
        CASE WHEN lfs THEN 3 ELSE 0 END)
    RETURNING * INTO s;
    IF group_code IS NOT NULL THEN
        PERFORM matchmaking.create_group(s, group_code, invite_window_secs);
    END IF;
    PERFORM matchmaking.add_player(s.id, organization_id, player_id, player_name, leave_after,
                                   group_code, NOT lfs);
    IF lfs THEN
        INSERT INTO matchmaking.scrim_team_players (scrim_id, game_index, team_index, player_id)
        SELECT s.id, game, lfs_team, create_scrim.player_id FROM generate_series(0, 2) AS game;
    END IF;
    RETURN matchmaking.announce(s.id, 'scrim.created');
END $$;

-- An admin's end-to-end test scrim: IN_PROGRESS, empty roster, one game (one replay expected).
CREATE FUNCTION matchmaking.create_test_scrim(
    id uuid, author_id integer, organization_id integer, game_mode_id integer,
    skill_group_id integer, team_size smallint, team_count smallint, mode matchmaking.scrim_mode,
    competitive boolean, observable boolean, checkin_timeout_ms integer)
RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO matchmaking.scrims (id, status, author_id, organization_id, game_mode_id,
        skill_group_id, submission_id, team_size, team_count, mode, competitive, observable,
        test, checkin_timeout_ms, game_count)
    VALUES (id, 'IN_PROGRESS', author_id, organization_id, game_mode_id, skill_group_id,
        'scrim-test-' || gen_random_uuid(), team_size, team_count, mode, competitive, observable,
        true, checkin_timeout_ms, 1);
    RETURN matchmaking.announce(id, 'scrim.created');
END $$;

-- Adds a player to a PENDING scrim, creating or joining a group; the join that fills it pops it
-- (submission id assigned, poppedAt stamped, check-in timer armed).
CREATE FUNCTION matchmaking.join_scrim(
    scrim_id uuid, player_id integer, player_name text, leave_after integer,
    player_skill_group integer, create_group_code text, join_group_code text,
    invite_window_secs integer)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    s matchmaking.scrims := matchmaking.lock_scrim_row(scrim_id);
    group_code text := coalesce(create_group_code, join_group_code);
    grp matchmaking.scrim_groups;
BEGIN
    PERFORM matchmaking.admit(player_id, s.organization_id, s.skill_group_id, s.competitive,
                              player_skill_group);
    IF s.status <> 'PENDING' THEN
        PERFORM matchmaking.fail('ScrimAlreadyInProgress', 'the scrim is no longer taking players');
    END IF;
    IF group_code IS NOT NULL THEN
        PERFORM matchmaking.check_groups_allowed(s.mode, s.team_size);
    ELSIF s.group_invite_opens_at > now() THEN
        PERFORM matchmaking.fail('ScrimGroupInviteWindowActive',
            'a group was just created: only its members may join until the invite window closes');
    END IF;
    IF create_group_code IS NOT NULL THEN
        PERFORM matchmaking.create_group(s, create_group_code, invite_window_secs);
    ELSIF join_group_code IS NOT NULL THEN
        SELECT * INTO grp FROM matchmaking.scrim_groups g
        WHERE g.scrim_id = s.id AND g.code = join_group_code;
        IF NOT FOUND THEN
            PERFORM matchmaking.fail('GroupNotFound', format('no group %s in this scrim', join_group_code));
        END IF;
        IF grp.member_count >= grp.capacity THEN
            PERFORM matchmaking.fail('GroupFull', 'the group is as large as a team');
        END IF;
    END IF;
    PERFORM matchmaking.add_player(s.id, s.organization_id, player_id, player_name, leave_after,
                                   group_code, true);
    -- The row lock was taken before the insert, so the count it read plus this player is exact.
    IF s.player_count + 1 < s.team_size * s.team_count THEN
        RETURN matchmaking.announce(s.id, 'scrim.updated');
    END IF;
    -- Full: pop. The row lock makes this the only join that can see the scrim full.
    UPDATE matchmaking.scrims
    SET status = 'POPPED', popped_at = now(), submission_id = 'scrim-' || gen_random_uuid(),
        group_invite_opens_at = NULL, updated_at = now(),
        checkin_deadline = now() + checkin_timeout_ms * interval '1 millisecond'
    WHERE id = s.id
    RETURNING * INTO s;
    PERFORM matchmaking.arm_check_in(s.id, s.submission_id, s.checkin_deadline);
    RETURN matchmaking.announce(s.id, 'scrim.popped');
END $$;

-- Takes a player out of a PENDING scrim; the last one out empties it.
CREATE FUNCTION matchmaking.leave_scrim(scrim_id uuid, player_id integer) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    s matchmaking.scrims := matchmaking.lock_scrim_row(scrim_id);
BEGIN
    IF s.status <> 'PENDING' THEN
        PERFORM matchmaking.fail('ScrimAlreadyInProgress', 'players cannot leave a scrim that has popped');
    END IF;
    RETURN matchmaking.remove_player(s, player_id, false);
END $$;

-- Checks a player in. The last check-in starts the scrim with the caller's plan: `{"games":
-- [[[player ids of team 0], [team 1], ...], ...], "lobby": {"name", "password"}}`. Teams and the
-- lobby need randomness the service owns (a seedable generator for teams, the operating
-- system's for the password), so when the last check-in comes without a plan that fits the
-- roster, nothing is written and the function returns what to plan for: `{"startNeeds":
-- {"teamSize", "teamCount", "mode", "roster": [{"playerId", "group"}]}}`. The caller plans and
-- calls again.
CREATE FUNCTION matchmaking.check_in(scrim_id uuid, player_id integer, plan jsonb DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    s matchmaking.scrims := matchmaking.lock_scrim_row(scrim_id);
    already boolean;
    roster jsonb;
BEGIN
    IF s.status <> 'POPPED' THEN
        PERFORM matchmaking.fail('ScrimStatusNotPopped', 'check-in is open only while the scrim is popped');
    END IF;
    SELECT p.checked_in INTO already FROM matchmaking.scrim_players p
    WHERE p.scrim_id = s.id AND p.player_id = check_in.player_id;
    IF NOT FOUND THEN
        PERFORM matchmaking.fail('PlayerNotInScrim', 'the player is not in this scrim');
    ELSIF already THEN
        PERFORM matchmaking.fail('PlayerAlreadyCheckedIn', 'the player has already checked in');
    END IF;
    IF EXISTS (SELECT 1 FROM matchmaking.scrim_players p
               WHERE p.scrim_id = s.id AND NOT p.checked_in AND p.player_id <> check_in.player_id) THEN
        -- One UPDATE of one player row, under the scrim lock: no check-in can be lost (the
        -- original's whole-array read-modify-write lost concurrent ones).
        UPDATE matchmaking.scrim_players p SET checked_in = true
        WHERE p.scrim_id = s.id AND p.player_id = check_in.player_id;
        UPDATE matchmaking.scrims SET updated_at = now() WHERE id = s.id;
        RETURN matchmaking.announce(s.id, 'scrim.updated');
    END IF;
    IF NOT matchmaking.plan_fits(s, plan) THEN
        SELECT jsonb_agg(jsonb_build_object('playerId', p.player_id, 'group', p.group_code)
                         ORDER BY p.position)
          INTO roster FROM matchmaking.scrim_players p WHERE p.scrim_id = s.id;
        RETURN jsonb_build_object('startNeeds', jsonb_build_object(
            'teamSize', s.team_size, 'teamCount', s.team_count, 'mode', s.mode, 'roster', roster));
    END IF;
    -- POPPED → IN_PROGRESS with the plan's games and lobby; the check-in timer is disarmed.
    UPDATE matchmaking.scrim_players p SET checked_in = true
    WHERE p.scrim_id = s.id AND p.player_id = check_in.player_id;
    INSERT INTO matchmaking.scrim_team_players (scrim_id, game_index, team_index, player_id)
    SELECT s.id, game.index - 1, team.index - 1, member::integer
    FROM jsonb_array_elements(plan -> 'games') WITH ORDINALITY AS game(teams, index),
         jsonb_array_elements(game.teams) WITH ORDINALITY AS team(members, index),
         jsonb_array_elements_text(team.members) AS member;
    UPDATE matchmaking.scrims
    SET status = 'IN_PROGRESS', game_count = jsonb_array_length(plan -> 'games'),
        lobby_name = plan -> 'lobby' ->> 'name', lobby_password = plan -> 'lobby' ->> 'password',
        updated_at = now()
    WHERE id = s.id;
    PERFORM matchmaking.disarm_check_in(s.id);
    RETURN matchmaking.announce(s.id, 'scrim.started');
END $$;

-- Whether a start plan fits the scrim: three games of team_count teams of team_size players,
-- each game holding exactly the roster, and a lobby with a name and a password. (Groups cannot
-- change while a scrim is popped, so a plan made for its roster keeps them together.)
CREATE FUNCTION matchmaking.plan_fits(s matchmaking.scrims, plan jsonb) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
DECLARE
    roster integer[];
    game jsonb;
BEGIN
    IF plan IS NULL OR jsonb_typeof(plan -> 'games') IS DISTINCT FROM 'array'
       OR jsonb_array_length(plan -> 'games') <> 3
       OR coalesce(plan -> 'lobby' ->> 'name', '') = ''
       OR coalesce(plan -> 'lobby' ->> 'password', '') = '' THEN
        RETURN false;
    END IF;
    SELECT array_agg(p.player_id ORDER BY p.player_id) INTO roster
    FROM matchmaking.scrim_players p WHERE p.scrim_id = s.id;
    FOR game IN SELECT value FROM jsonb_array_elements(plan -> 'games') LOOP
        IF jsonb_typeof(game) IS DISTINCT FROM 'array' OR jsonb_array_length(game) <> s.team_count
           OR EXISTS (SELECT 1 FROM jsonb_array_elements(game) AS team
                      WHERE jsonb_typeof(team) IS DISTINCT FROM 'array'
                         OR jsonb_array_length(team) <> s.team_size)
           OR (SELECT array_agg(member::integer ORDER BY member::integer)
                 FROM jsonb_array_elements(game) AS team,
                      jsonb_array_elements_text(team) AS member) IS DISTINCT FROM roster THEN
            RETURN false;
        END IF;
    END LOOP;
    RETURN true;
END $$;

-- Admin: cancels a scrim in any status. No queue bans: nobody missed a check-in.
CREATE FUNCTION matchmaking.cancel_scrim(scrim_id uuid) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM matchmaking.lock_scrim_row(scrim_id);
    RETURN matchmaking.remove_scrim(scrim_id, 'CANCELLED', 'scrim.cancelled');
END $$;

-- Core saved the scrim's results (scrim.saved): it completes and leaves the live set. NULL when
-- it is gone already (a second delivery).
CREATE FUNCTION matchmaking.complete_scrim(scrim_id uuid) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM matchmaking.scrims WHERE id = scrim_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    RETURN matchmaking.remove_scrim(scrim_id, 'COMPLETE', 'scrim.complete');
END $$;

-- Locks a scrim for an admin to look at (an admin's request, or a submission's third
-- rejection). Locking a locked scrim changes nothing: it must not record LOCKED as the status
-- to restore (the original's lock-twice defect).
CREATE FUNCTION matchmaking.lock_scrim(scrim_id uuid) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    s matchmaking.scrims := matchmaking.lock_scrim_row(scrim_id);
BEGIN
    IF s.status = 'LOCKED' THEN
        RETURN matchmaking.scrim_json(s);
    END IF;
    UPDATE matchmaking.scrims
    SET unlocked_status = status, status = 'LOCKED', updated_at = now()
    WHERE id = s.id;
    RETURN matchmaking.announce(s.id, 'scrim.updated');
END $$;

-- Restores a locked scrim's previous status (IN_PROGRESS if none was recorded). Unlocking a
-- scrim that is not locked changes nothing. A scrim unlocked back to POPPED gets a fresh, full
-- check-in window from now: its players could not check in while it was locked, so the old
-- deadline (which may have passed meanwhile) no longer applies. Back to PENDING, its players'
-- leave timers are armed again (those still waiting keep their dedup key and their time).
CREATE FUNCTION matchmaking.unlock_scrim(scrim_id uuid) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    s matchmaking.scrims := matchmaking.lock_scrim_row(scrim_id);
BEGIN
    IF s.status <> 'LOCKED' THEN
        RETURN matchmaking.scrim_json(s);
    END IF;
    UPDATE matchmaking.scrims
    SET status = coalesce(unlocked_status, 'IN_PROGRESS'), unlocked_status = NULL, updated_at = now(),
        checkin_deadline = CASE WHEN unlocked_status = 'POPPED'
                                THEN now() + checkin_timeout_ms * interval '1 millisecond' END
    WHERE id = s.id
    RETURNING * INTO s;
    IF s.status = 'POPPED' THEN
        PERFORM matchmaking.arm_check_in(s.id, s.submission_id, s.checkin_deadline);
    ELSIF s.status = 'PENDING' THEN
        PERFORM matchmaking.arm_leave(p.scrim_id, p.player_id, p.leave_at)
        FROM matchmaking.scrim_players p WHERE p.scrim_id = s.id;
    END IF;
    RETURN matchmaking.announce(s.id, 'scrim.updated');
END $$;

-- The scrim's submission was reset: back to IN_PROGRESS. NULL when nothing changed (no such
-- scrim, or IN_PROGRESS already), so a second delivery publishes nothing.
CREATE FUNCTION matchmaking.reset_scrim(submission text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    s matchmaking.scrims;
BEGIN
    SELECT * INTO s FROM matchmaking.scrims WHERE submission_id = submission FOR UPDATE;
    IF NOT FOUND OR s.status = 'IN_PROGRESS' THEN
        RETURN NULL;
    END IF;
    UPDATE matchmaking.scrims
    SET status = 'IN_PROGRESS', unlocked_status = NULL, updated_at = now()
    WHERE id = s.id;
    PERFORM matchmaking.disarm_check_in(s.id);
    RETURN matchmaking.announce(s.id, 'scrim.updated');
END $$;

---------------------------------------------------------------------------------------------
-- Timer handlers. Each acts only if the scrim is still in the state that armed the timer, so a
-- late or repeated delivery changes nothing (they return NULL then).
---------------------------------------------------------------------------------------------

-- A player's leaveAt came: if they are still queued in that scrim by that join, they leave; if
-- they were its only player the scrim is cancelled (DOMAIN §1.2), naming them.
CREATE FUNCTION matchmaking.expire_leave(scrim_id uuid, player_id integer, leave_at timestamptz)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    s matchmaking.scrims;
BEGIN
    SELECT * INTO s FROM matchmaking.scrims WHERE id = scrim_id FOR UPDATE;
    IF NOT FOUND OR s.status <> 'PENDING' THEN
        RETURN NULL; -- Gone, or popped (popped players stay; an unlock re-arms the timer).
    END IF;
    IF NOT EXISTS (SELECT 1 FROM matchmaking.scrim_players p
                   WHERE p.scrim_id = s.id AND p.player_id = expire_leave.player_id
                     AND p.leave_at = expire_leave.leave_at) THEN
        RETURN NULL; -- Left already, or this is an older join's timer.
    END IF;
    RETURN matchmaking.remove_player(s, player_id, true);
END $$;

-- Writes one QUEUE_BAN (DOMAIN §1.5) for the player as a member of the scrim's organization, and
-- announces it. Its length is `initial + modifier × (the member's queue bans of the fall-off
-- window)` minutes: bans in other organizations, and bans an admin lifted and forgave, do not
-- count. The policy is the organization's configuration in core; the `fallback_` values (the
-- service's settings) apply to an organization core does not know. Nothing if this scrim already
-- banned this player (the unique constraint makes a repeat a no-op), or if the policy makes the
-- ban zero minutes long.
CREATE FUNCTION matchmaking.queue_ban(
    player_id integer, scrim_id uuid, organization_id integer, fallback_initial_minutes integer,
    fallback_modifier_minutes integer, fallback_fall_off_days integer)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    initial numeric := matchmaking.organization_setting(organization_id,
        'SCRIM_QUEUE_BAN_INITIAL_DURATION_MINUTES', fallback_initial_minutes);
    modifier numeric := matchmaking.organization_setting(organization_id,
        'SCRIM_QUEUE_BAN_DURATION_MODIFIER', fallback_modifier_minutes);
    fall_off numeric := matchmaking.organization_setting(organization_id,
        'SCRIM_QUEUE_BAN_MODIFIER_FALL_OFF_DAYS', fallback_fall_off_days);
    recent bigint;
    minutes numeric;
    ban core.member_restrictions;
BEGIN
    SELECT count(*) INTO recent FROM core.member_restrictions r
    WHERE r.user_id = player_id AND r.organization_id = queue_ban.organization_id
      AND r.type = 'QUEUE_BAN' AND NOT r.forgiven
      AND r.created_at > now() - fall_off * interval '1 day';
    minutes := initial + modifier * recent;
    IF minutes <= 0 THEN
        RETURN;
    END IF;
    INSERT INTO core.member_restrictions (user_id, organization_id, type, reason, expiration, scrim_id)
    VALUES (player_id, organization_id, 'QUEUE_BAN', 'Did not check in to a popped scrim',
            now() + minutes * interval '1 minute', scrim_id)
    ON CONFLICT DO NOTHING
    RETURNING * INTO ban;
    IF ban.id IS NOT NULL THEN
        PERFORM matchmaking.publish('member.restrictionCreated', jsonb_build_object(
            'id', ban.id, 'userId', ban.user_id, 'organizationId', ban.organization_id,
            'type', ban.type, 'reason', ban.reason,
            'createdAt', matchmaking.utc(ban.created_at),
            'expiration', matchmaking.utc(ban.expiration), 'scrimId', ban.scrim_id,
            'forgiven', ban.forgiven));
    END IF;
END $$;

-- Every player of a popped scrim (locked by the caller) who did not check in is queue banned,
-- and the scrim is cancelled, in one transaction. The policy arguments are the service's
-- fallbacks (see queue_ban).
CREATE FUNCTION matchmaking.time_out_check_in(
    s matchmaking.scrims, initial_minutes integer, modifier_minutes integer, fall_off_days integer)
RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    PERFORM matchmaking.queue_ban(p.player_id, s.id, s.organization_id, initial_minutes,
                                  modifier_minutes, fall_off_days)
    FROM (SELECT p.player_id FROM matchmaking.scrim_players p
          WHERE p.scrim_id = s.id AND NOT p.checked_in ORDER BY p.position) AS p;
    RETURN matchmaking.remove_scrim(s.id, 'CANCELLED', 'scrim.cancelled');
END $$;

-- A popped scrim's check-in window closed: if the scrim is still popped by the same pop, and
-- this timer is for its current deadline, the check-in timed out. NULL when the timer no longer
-- applies (started, cancelled, locked, popped again, or given a fresh window by an unlock).
CREATE FUNCTION matchmaking.expire_check_in(
    scrim_id uuid, submission text, deadline timestamptz, initial_minutes integer,
    modifier_minutes integer, fall_off_days integer)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    s matchmaking.scrims;
BEGIN
    SELECT * INTO s FROM matchmaking.scrims WHERE id = scrim_id FOR UPDATE;
    IF NOT FOUND OR s.status <> 'POPPED' OR s.submission_id IS DISTINCT FROM submission
       -- A timer of the release before V7 names no deadline: it keeps the old rule.
       OR (deadline IS NOT NULL AND s.checkin_deadline IS DISTINCT FROM deadline) THEN
        RETURN NULL;
    END IF;
    RETURN matchmaking.time_out_check_in(s, initial_minutes, modifier_minutes, fall_off_days);
END $$;

---------------------------------------------------------------------------------------------
-- The reconciliation sweep (issue 13 item 3). A timer that was dead-lettered (or lost in any
-- other way) would leave a scrim POPPED, or a player queued, forever, and those players could
-- join nothing else. A periodic job, once per period across replicas, finds the scrims whose
-- timer is missing or overdue by more than a grace period (its workers are down or its queue is
-- paused) and acts on each in a transaction of its own: what is due happens now, what is not is
-- armed again.
---------------------------------------------------------------------------------------------

-- The timers that should exist and do not, or are overdue: a POPPED scrim's check-in timer
-- (player_id NULL) and each player's leave timer in a PENDING scrim. `at` is the sweep's
-- clock (now(), or a test's).
CREATE FUNCTION matchmaking.stranded_timers(at timestamptz, grace interval)
RETURNS TABLE (scrim_id uuid, player_id integer)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY
    SELECT s.id, NULL::integer
    FROM matchmaking.scrims s
    WHERE s.status = 'POPPED'
      AND NOT EXISTS (SELECT 1 FROM matchmaking.checkin_timeouts t
                      WHERE t.dedup_key = s.id::text AND t.run_at > at - grace)
    UNION ALL
    SELECT p.scrim_id, p.player_id
    FROM matchmaking.scrims s JOIN matchmaking.scrim_players p ON p.scrim_id = s.id
    WHERE s.status = 'PENDING'
      AND NOT EXISTS (SELECT 1 FROM matchmaking.leave_expiries t
                      WHERE t.dedup_key = p.scrim_id::text || ':' || p.player_id
                        AND t.run_at > at - grace);
END $$;

-- Reconciles a popped scrim's check-in: its deadline passed, so it times out now; or it has not,
-- so its timer is armed again. What it did: 'timed_out', 'rearmed', or 'fine' (the scrim moved
-- on, or its timer came back, since it was found).
CREATE FUNCTION matchmaking.reconcile_check_in(
    scrim_id uuid, at timestamptz, grace interval, initial_minutes integer,
    modifier_minutes integer, fall_off_days integer)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    s matchmaking.scrims;
    deadline timestamptz;
BEGIN
    SELECT * INTO s FROM matchmaking.scrims WHERE id = scrim_id FOR UPDATE;
    IF NOT FOUND OR s.status <> 'POPPED' OR EXISTS (
        SELECT 1 FROM matchmaking.checkin_timeouts t
        WHERE t.dedup_key = s.id::text AND t.run_at > at - grace) THEN
        RETURN 'fine';
    END IF;
    deadline := coalesce(s.checkin_deadline, s.popped_at + s.checkin_timeout_ms * interval '1 millisecond');
    IF deadline <= at THEN
        PERFORM matchmaking.time_out_check_in(s, initial_minutes, modifier_minutes, fall_off_days);
        RETURN 'timed_out';
    END IF;
    UPDATE matchmaking.scrims SET checkin_deadline = deadline WHERE id = s.id;
    PERFORM matchmaking.arm_check_in(s.id, s.submission_id, deadline);
    RETURN 'rearmed';
END $$;

-- Reconciles a queued player's leaveAt: passed, so they leave now (as the timer would have); or
-- not, so their timer is armed again. 'expired', 'rearmed' or 'fine'.
CREATE FUNCTION matchmaking.reconcile_leave(
    scrim_id uuid, player_id integer, at timestamptz, grace interval)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    s matchmaking.scrims;
    leaves timestamptz;
BEGIN
    SELECT * INTO s FROM matchmaking.scrims WHERE id = scrim_id FOR UPDATE;
    SELECT p.leave_at INTO leaves FROM matchmaking.scrim_players p
    WHERE p.scrim_id = reconcile_leave.scrim_id AND p.player_id = reconcile_leave.player_id;
    IF s.id IS NULL OR s.status <> 'PENDING' OR leaves IS NULL OR EXISTS (
        SELECT 1 FROM matchmaking.leave_expiries t
        WHERE t.dedup_key = s.id::text || ':' || player_id AND t.run_at > at - grace) THEN
        RETURN 'fine';
    END IF;
    IF leaves <= at THEN
        PERFORM matchmaking.remove_player(s, player_id, true);
        RETURN 'expired';
    END IF;
    PERFORM matchmaking.disarm_leaves(s.id, ARRAY[player_id]);
    PERFORM matchmaking.arm_leave(s.id, player_id, leaves);
    RETURN 'rearmed';
END $$;

-- The periods of matchmaking's periodic jobs (pg-queue's Periodic: one run per period across
-- replicas).
SELECT pgq.create_periodic_jobs('matchmaking', 'matchmaking');

---------------------------------------------------------------------------------------------
-- Metrics after commit (DOMAIN §1.1, issue 13 item 6)
---------------------------------------------------------------------------------------------

-- The last scrim.metricsUpdate published, shared by every replica.
CREATE TABLE matchmaking.published_metrics (
    singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    metrics      jsonb,
    published_at timestamptz
);
INSERT INTO matchmaking.published_metrics DEFAULT VALUES;
COMMENT ON TABLE matchmaking.published_metrics IS
    'The last scrim.metricsUpdate matchmaking published: one row, written by publish_metrics.';
GRANT SELECT, UPDATE ON matchmaking.published_metrics TO matchmaking;

-- Publishes scrim.metricsUpdate if the counts changed since the last one, and the last one is
-- at least `min_interval` old. A write transaction cannot count what the others have not
-- committed, so metrics are not published by the writes: every replica runs this a few times a
-- second. The row lock serialises the replicas, and the counts are read after it is taken, so a
-- publication always counts everything its predecessor counted and more: dashboards end on the
-- committed state, at most one update per interval. Returns whether it published.
CREATE FUNCTION matchmaking.publish_metrics(min_interval interval) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    previous matchmaking.published_metrics;
    counts jsonb;
BEGIN
    SELECT * INTO previous FROM matchmaking.published_metrics FOR UPDATE;
    IF previous.published_at > now() - min_interval THEN
        RETURN false;
    END IF;
    counts := matchmaking.metrics();
    IF counts IS NOT DISTINCT FROM previous.metrics THEN
        RETURN false;
    END IF;
    UPDATE matchmaking.published_metrics SET metrics = counts, published_at = now();
    PERFORM matchmaking.publish('scrim.metricsUpdate', counts);
    RETURN true;
END $$;

---------------------------------------------------------------------------------------------
-- Triggers: the player counter also stamps updated_at (one UPDATE of the scrim row per roster
-- change instead of two), and the invite window closes when the last group empties.
---------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION matchmaking.count_players() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE matchmaking.scrims SET player_count = player_count + 1, updated_at = now()
        WHERE id = NEW.scrim_id;
        IF NEW.group_code IS NOT NULL THEN
            UPDATE matchmaking.scrim_groups SET member_count = member_count + 1
            WHERE scrim_id = NEW.scrim_id AND code = NEW.group_code;
        END IF;
        RETURN NEW;
    END IF;
    -- DELETE. When the whole scrim is being deleted these updates find nothing, which is right.
    UPDATE matchmaking.scrims SET player_count = player_count - 1, updated_at = now()
    WHERE id = OLD.scrim_id;
    IF OLD.group_code IS NOT NULL THEN
        -- A group exists while it has members: the last one out removes it.
        DELETE FROM matchmaking.scrim_groups
        WHERE scrim_id = OLD.scrim_id AND code = OLD.group_code AND member_count = 1;
        UPDATE matchmaking.scrim_groups SET member_count = member_count - 1
        WHERE scrim_id = OLD.scrim_id AND code = OLD.group_code;
    END IF;
    RETURN OLD;
END $$;

CREATE OR REPLACE FUNCTION matchmaking.count_groups() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE matchmaking.scrims SET group_count = group_count + 1 WHERE id = NEW.scrim_id;
        RETURN NEW;
    END IF;
    -- The invite window exists for the groups: with the last one gone, anyone may join again.
    UPDATE matchmaking.scrims
    SET group_count = group_count - 1,
        group_invite_opens_at = CASE WHEN group_count = 1 THEN NULL ELSE group_invite_opens_at END
    WHERE id = OLD.scrim_id;
    RETURN OLD;
END $$;

---------------------------------------------------------------------------------------------
-- Who may call: only matchmaking (functions are executable by PUBLIC by default). They run
-- with the caller's privileges anyway; this keeps other roles from even trying.
---------------------------------------------------------------------------------------------

REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA matchmaking FROM PUBLIC;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA matchmaking TO matchmaking;
