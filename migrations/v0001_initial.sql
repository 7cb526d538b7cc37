-- fleet history schema, version 1. Add-only: never edit once released; add v0002_… instead.
--
-- Conventions (so `sqlite3 history.sqlite` works without fleet):
--  * every time is TEXT, ISO 8601 UTC with milliseconds: 2026-11-29T18:20:00.000Z
--    (fixed width, so text order is time order and SQLite's date functions accept it);
--  * enums are TEXT with a CHECK listing the values fleet writes;
--  * JSON columns are checked with json_valid;
--  * deleting a run deletes everything below it (ON DELETE CASCADE).
-- fleet opens the file with foreign_keys=ON and in WAL mode; GRDB applies each migration
-- in one transaction and records it in grdb_migrations.

-- One invocation of fleet scan / clean / sweep.
CREATE TABLE runs (
    id            INTEGER PRIMARY KEY,
    kind          TEXT    NOT NULL CHECK (kind IN ('scan', 'clean', 'sweep')),
    started_at    TEXT    NOT NULL,
    ended_at      TEXT,
    inventory     TEXT,
    options       TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(options)),
    status        TEXT    NOT NULL DEFAULT 'running'
                  CHECK (status IN ('running', 'ok', 'partial', 'failed', 'interrupted')),
    fleet_version TEXT    NOT NULL,
    exit_code     INTEGER,
    -- Who is writing a 'running' run: on open, fleet marks a running run 'interrupted' only
    -- when it was started on this host by a process that no longer exists (same pid and
    -- same start time), so a history query never flags a sweep that is still going.
    host          TEXT    NOT NULL DEFAULT '',
    pid           INTEGER,
    pid_start     TEXT,
    CHECK ((status = 'running') = (ended_at IS NULL))
);
CREATE INDEX runs_started ON runs (started_at);
CREATE INDEX runs_running ON runs (status) WHERE status = 'running';

-- One node in one run: what the transport said, and when.
CREATE TABLE node_runs (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    node        TEXT    NOT NULL,
    address     TEXT    NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN (
                    'ok', 'refused', 'unreachable', 'connect-timeout', 'handshake-timeout',
                    'auth-timeout', 'command-timeout', 'host-key-unknown', 'host-key-changed',
                    'auth-failed', 'sudo-needs-password', 'truncated', 'disconnected',
                    'protocol-error', 'node-error')),
    started_at  TEXT    NOT NULL,
    duration_ms INTEGER NOT NULL CHECK (duration_ms >= 0),
    error       TEXT,
    -- Parser warnings: [{"line": 12, "text": "…"}]
    warnings    TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(warnings)),
    UNIQUE (run_id, node)
);
-- Timeline of a node, and "latest scan of each node".
CREATE INDEX node_runs_node_time ON node_runs (node, started_at);

-- Each node's latest successful (status ok) node_run, kept by the trigger below, so
-- "what is residual now" is one row per node instead of a scan over the whole history.
-- Deleting that node_run (prune) deletes the row; prune then re-derives it from what is left.
CREATE TABLE node_latest (
    node        TEXT    PRIMARY KEY,
    node_run_id INTEGER NOT NULL REFERENCES node_runs (id) ON DELETE CASCADE,
    started_at  TEXT    NOT NULL
) WITHOUT ROWID;
CREATE INDEX node_latest_run ON node_latest (node_run_id);
CREATE TRIGGER node_runs_latest AFTER INSERT ON node_runs WHEN NEW.status = 'ok'
BEGIN
    INSERT INTO node_latest (node, node_run_id, started_at) VALUES (NEW.node, NEW.id, NEW.started_at)
    ON CONFLICT (node) DO UPDATE SET node_run_id = excluded.node_run_id, started_at = excluded.started_at
    WHERE excluded.started_at >= node_latest.started_at;
END;

-- One multipath map as seen in one node_run, with the classifier's verdict.
-- node and seen_at repeat node_runs.node / node_runs.started_at so that the history
-- queries (by WWID, by verdict, over a time window) are one index range each.
CREATE TABLE maps (
    id          INTEGER PRIMARY KEY,
    node_run_id INTEGER NOT NULL REFERENCES node_runs (id) ON DELETE CASCADE,
    node        TEXT    NOT NULL,
    seen_at     TEXT    NOT NULL,
    position    INTEGER NOT NULL,          -- order in multipath -ll
    line        INTEGER NOT NULL DEFAULT 0, -- header line in multipath -ll
    wwid        TEXT,
    name        TEXT,
    dm          TEXT,
    vendor      TEXT,
    product     TEXT,
    size        TEXT,
    features    TEXT,
    hwhandler   TEXT,
    wp          TEXT,
    all_failed  INTEGER NOT NULL CHECK (all_failed IN (0, 1)),
    verdict     TEXT    NOT NULL CHECK (verdict IN (
                    'healthy', 'degraded', 'residual', 'residual-hung', 'in-use',
                    'path-loss', 'needs-review')),
    reasons     TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(reasons)),
    evidence    TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(evidence)),
    UNIQUE (node_run_id, position)
);
-- Covering for "this WWID on this node over time" (clean's all-failed history, first seen).
CREATE INDEX maps_wwid_time    ON maps (wwid, node, seen_at, verdict, all_failed);
CREATE INDEX maps_verdict_time ON maps (verdict, seen_at);
CREATE INDEX maps_node_time    ON maps (node, seen_at);

-- One path of a map (path group columns repeated on each of its paths).
CREATE TABLE paths (
    id            INTEGER PRIMARY KEY,
    map_id        INTEGER NOT NULL REFERENCES maps (id) ON DELETE CASCADE,
    group_index   INTEGER NOT NULL CHECK (group_index >= 0),
    position      INTEGER NOT NULL CHECK (position >= 0), -- within its group
    policy        TEXT,
    prio          INTEGER,
    group_status  TEXT,
    hctl          TEXT,
    dev           TEXT,
    major_minor   TEXT,
    dm_state      TEXT,
    checker_state TEXT,
    device_state  TEXT,
    sysfs_state   TEXT, -- /sys/block/sdX/device/state, the authoritative one
    UNIQUE (map_id, group_index, position)
);

-- What each discovery command printed, verbatim, so a newer parser can re-read an old run.
CREATE TABLE raw_outputs (
    id           INTEGER PRIMARY KEY,
    node_run_id  INTEGER NOT NULL REFERENCES node_runs (id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    capture_name TEXT    NOT NULL, -- NodeCommand.captureName, e.g. multipath-ll
    command      TEXT    NOT NULL, -- as an operator would type it
    exit_code    INTEGER,          -- NULL: the command never returned
    stdout       TEXT    NOT NULL,
    stderr       TEXT    NOT NULL,
    UNIQUE (node_run_id, position)
);

-- Clean audit: one row per state-changing command, written BEFORE it runs.
CREATE TABLE actions (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    node        TEXT    NOT NULL,
    wwid        TEXT    NOT NULL,
    map_name    TEXT,
    dm          TEXT,
    command     TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    planned_at  TEXT    NOT NULL,
    started_at  TEXT,
    ended_at    TEXT,
    duration_ms INTEGER CHECK (duration_ms >= 0),
    exit_code   INTEGER,
    stdout      TEXT,
    stderr      TEXT,
    outcome     TEXT    NOT NULL DEFAULT 'planned'
                CHECK (outcome IN ('planned', 'started', 'ok', 'failed', 'skipped', 'aborted')),
    reason      TEXT
);
CREATE INDEX actions_time      ON actions (planned_at);
CREATE INDEX actions_node_time ON actions (node, planned_at);
CREATE INDEX actions_run       ON actions (run_id);
CREATE INDEX actions_unfinished ON actions (node) WHERE outcome IN ('planned', 'started');
