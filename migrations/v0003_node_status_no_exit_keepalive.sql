-- Two node statuses (FleetModel.NodeStatus): `keepalive-timeout` (the session went silent
-- and was cut by SSH keepalives) and `no-exit-status` (a script's channel ended without an
-- exit status, so its outcome is unknown). SQLite cannot change a CHECK constraint in place:
-- node_runs is rebuilt (SQLite's documented 12-step ALTER; GRDB runs a migration with
-- foreign key enforcement off and checks every key at its end), keeping every row and id,
-- so the tables that reference node_runs (node_latest, maps, raw_outputs) still point
-- at the same rows. Its indexes and trigger are dropped with it and made again as in v0001
-- and v0002 (state_id, output_set_id).
CREATE TABLE node_runs_v0003 (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    node        TEXT    NOT NULL,
    address     TEXT    NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN (
                    'ok', 'refused', 'unreachable', 'connect-timeout', 'handshake-timeout',
                    'auth-timeout', 'command-timeout', 'keepalive-timeout', 'host-key-unknown',
                    'host-key-changed', 'auth-failed', 'sudo-needs-password', 'truncated',
                    'disconnected', 'protocol-error', 'node-error', 'no-exit-status')),
    started_at  TEXT    NOT NULL,
    duration_ms INTEGER NOT NULL CHECK (duration_ms >= 0),
    error       TEXT,
    -- Parser warnings: [{"line": 12, "text": "…"}]
    warnings    TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(warnings)),
    state_id      INTEGER REFERENCES node_states (id),
    output_set_id INTEGER REFERENCES output_sets (id),
    UNIQUE (run_id, node)
);
INSERT INTO node_runs_v0003 (id, run_id, node, address, status, started_at, duration_ms, error, warnings, state_id, output_set_id)
    SELECT id, run_id, node, address, status, started_at, duration_ms, error, warnings, state_id, output_set_id FROM node_runs;
-- v0002's views read node_runs: dropped first, made again as v0002 made them.
DROP VIEW raw_outputs;
DROP VIEW map_observations;
DROP TABLE node_runs;
ALTER TABLE node_runs_v0003 RENAME TO node_runs;
CREATE INDEX node_runs_node_time ON node_runs (node, started_at);
CREATE INDEX node_runs_state ON node_runs (state_id, started_at);
CREATE INDEX node_runs_output_set ON node_runs (output_set_id);
CREATE TRIGGER node_runs_latest AFTER INSERT ON node_runs WHEN NEW.status = 'ok'
BEGIN
    INSERT INTO node_latest (node, node_run_id, started_at) VALUES (NEW.node, NEW.id, NEW.started_at)
    ON CONFLICT (node) DO UPDATE SET node_run_id = excluded.node_run_id, started_at = excluded.started_at
    WHERE excluded.started_at >= node_latest.started_at;
END;
CREATE VIEW raw_outputs AS
SELECT n.id AS node_run_id, CAST(j.key AS INTEGER) AS position, o.capture_name, o.command, o.exit_code,
       so.body AS stdout, se.body AS stderr
FROM node_runs n
JOIN output_sets s ON s.id = n.output_set_id
JOIN json_each(s.outputs) j
JOIN outputs o ON o.id = j.value
JOIN contents so ON so.id = o.stdout_id
JOIN contents se ON se.id = o.stderr_id;

-- Every map as seen in every node run (version 1's maps table, with its node_run_id and seen_at).
CREATE VIEW map_observations AS
SELECT m.id AS map_id, n.id AS node_run_id, n.node, n.started_at AS seen_at, m.position, m.line, m.wwid,
       m.name, m.dm, m.vendor, m.product, m.size, m.features, m.hwhandler, m.wp, m.all_failed, m.verdict,
       m.reasons, m.evidence
FROM node_runs n JOIN maps m ON m.state_id = n.state_id;
