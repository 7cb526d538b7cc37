-- fleet history schema, version 2 (issue 17): the history stores what changed.
-- Add-only: never edit once released.
--
-- Version 1 wrote every raw output and every map/path row again on every scan: a
-- 1,000-node fleet swept hourly grew by ~540 MB a day, 82% of it outputs stored unchanged.
-- Now:
--  * a text (a command's stdout or stderr) is stored once in `contents`, whoever printed
--    it; a command's output (capture name, command, exit code, stdout, stderr) once in
--    `outputs`; a node run's ordered list of outputs once in `output_sets`;
--  * what a scan found on a node (its maps with paths, verdicts, reasons, evidence) is
--    stored once per distinct state of that node in `node_states` (+ `maps`, `paths`);
--  * a node_run points at its state and its output set. A node whose maps, verdicts and
--    outputs are unchanged since its last scan costs one node_runs row.
-- Identity is a SHA-256 digest computed by fleet (see FleetStore/StoredDigest.swift);
-- rows carried over from version 1 have none (NULL) and are never matched again.
-- `raw_outputs` (a view) and `map_observations` (a view) give back version 1's per-scan
-- shape for sqlite3 users. GRDB runs this with foreign keys off and checks them before
-- commit.

-- Distinct texts.
CREATE TABLE contents (
    id     INTEGER PRIMARY KEY,
    digest BLOB    UNIQUE,   -- SHA-256 of body; NULL when carried over from version 1
    body   TEXT    NOT NULL
);

-- Distinct command outputs. `sets` counts the output sets that list it (kept by the
-- triggers below), so prune finds the unused ones without reading every set.
CREATE TABLE outputs (
    id           INTEGER PRIMARY KEY,
    digest       BLOB    UNIQUE,
    capture_name TEXT    NOT NULL, -- NodeCommand.captureName, e.g. multipath-ll
    command      TEXT    NOT NULL, -- as an operator would type it
    exit_code    INTEGER,          -- NULL: the command never returned
    stdout_id    INTEGER NOT NULL REFERENCES contents (id),
    stderr_id    INTEGER NOT NULL REFERENCES contents (id),
    sets         INTEGER NOT NULL DEFAULT 0 CHECK (sets >= 0)
);
CREATE INDEX outputs_stdout ON outputs (stdout_id);
CREATE INDEX outputs_stderr ON outputs (stderr_id);
CREATE INDEX outputs_unused ON outputs (id) WHERE sets = 0;

-- Distinct ordered lists of outputs (what one node run printed): a JSON array of outputs.id.
-- An array, not a row per item: a node whose output changes a little every scan (a `ps`
-- listing, dd's timing) adds one short row, not ~20 rows and their index entries.
CREATE TABLE output_sets (
    id      INTEGER PRIMARY KEY,
    digest  BLOB    UNIQUE,
    outputs TEXT    NOT NULL CHECK (json_valid(outputs) AND json_type(outputs) = 'array')
);
CREATE TRIGGER output_sets_ref AFTER INSERT ON output_sets
BEGIN
    UPDATE outputs SET sets = sets + 1 WHERE id IN (SELECT value FROM json_each(NEW.outputs));
    SELECT RAISE(ABORT, 'output_sets: unknown output id')
    WHERE (SELECT COUNT(*) FROM json_each(NEW.outputs) j JOIN outputs o ON o.id = j.value)
          <> json_array_length(NEW.outputs);
END;
CREATE TRIGGER output_sets_unref AFTER DELETE ON output_sets
BEGIN
    UPDATE outputs SET sets = sets - 1 WHERE id IN (SELECT value FROM json_each(OLD.outputs));
END;

-- Distinct states of a node: the maps (with their paths) and verdicts one scan found.
CREATE TABLE node_states (
    id     INTEGER PRIMARY KEY,
    node   TEXT    NOT NULL,
    digest BLOB    UNIQUE    -- of the node name and every map/path column; NULL when carried over
);

ALTER TABLE node_runs ADD COLUMN state_id INTEGER REFERENCES node_states (id);
ALTER TABLE node_runs ADD COLUMN output_set_id INTEGER REFERENCES output_sets (id);

-- ---- Carry version 1's rows forward (ids of maps and paths are kept) ----

-- One state per node run that had maps; its id is the node run's id.
INSERT INTO node_states (id, node, digest)
SELECT n.id, n.node, NULL FROM node_runs n WHERE EXISTS (SELECT 1 FROM maps m WHERE m.node_run_id = n.id);
UPDATE node_runs SET state_id = id WHERE id IN (SELECT id FROM node_states);

-- maps: per state instead of per node run; seen_at is the node run's started_at (the view
-- map_observations has it).
CREATE TABLE maps_v2 (
    id          INTEGER PRIMARY KEY,
    state_id    INTEGER NOT NULL REFERENCES node_states (id) ON DELETE CASCADE,
    node        TEXT    NOT NULL,
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
    UNIQUE (state_id, position)
);
INSERT INTO maps_v2 (id, state_id, node, position, line, wwid, name, dm, vendor, product, size, features,
                     hwhandler, wp, all_failed, verdict, reasons, evidence)
SELECT id, node_run_id, node, position, line, wwid, name, dm, vendor, product, size, features,
       hwhandler, wp, all_failed, verdict, reasons, evidence
FROM maps ORDER BY id;
DROP TABLE maps;
ALTER TABLE maps_v2 RENAME TO maps;
-- "This WWID on this node" (clean's all-failed history, residual first/last seen): covering
-- up to the state, whose observations are one range of node_runs_state.
CREATE INDEX maps_wwid ON maps (wwid, node, all_failed, verdict, state_id);
-- Residual maps over all states (residuals --since).
CREATE INDEX maps_verdict ON maps (verdict, state_id);
CREATE INDEX node_runs_state ON node_runs (state_id, started_at);
CREATE INDEX node_runs_output_set ON node_runs (output_set_id);

-- raw_outputs: texts deduplicated (exact comparison), outputs and sets one per distinct value.
CREATE INDEX contents_body_migration ON contents (body);
INSERT INTO contents (body) SELECT stdout FROM raw_outputs UNION SELECT stderr FROM raw_outputs;
CREATE TEMP TABLE raw_v1 AS
SELECT r.node_run_id, r.position, r.capture_name, r.command, r.exit_code,
       (SELECT c.id FROM contents c WHERE c.body = r.stdout) AS stdout_id,
       (SELECT c.id FROM contents c WHERE c.body = r.stderr) AS stderr_id
FROM raw_outputs r;
DROP INDEX contents_body_migration;
INSERT INTO outputs (capture_name, command, exit_code, stdout_id, stderr_id)
SELECT DISTINCT capture_name, command, exit_code, stdout_id, stderr_id FROM raw_v1;
CREATE INDEX outputs_migration ON outputs (capture_name, command, exit_code, stdout_id, stderr_id);
CREATE TEMP TABLE items_v1 AS
SELECT r.node_run_id, r.position,
       (SELECT o.id FROM outputs o WHERE o.capture_name = r.capture_name AND o.command = r.command
          AND o.exit_code IS r.exit_code AND o.stdout_id = r.stdout_id AND o.stderr_id = r.stderr_id) AS output_id
FROM raw_v1 r;
-- json_group_array takes the rows in the subquery's order (checked by the migration test).
INSERT INTO output_sets (id, digest, outputs)
SELECT node_run_id, NULL, json_group_array(output_id)
FROM (SELECT node_run_id, output_id FROM items_v1 ORDER BY node_run_id, position)
GROUP BY node_run_id;
DROP TABLE items_v1;
DROP INDEX outputs_migration;
UPDATE node_runs SET output_set_id = id WHERE id IN (SELECT id FROM output_sets);
DROP TABLE raw_v1;
DROP TABLE raw_outputs;

-- ---- Version 1's per-scan shapes, for sqlite3 users ----

-- What each discovery command printed in each node run, verbatim.
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
