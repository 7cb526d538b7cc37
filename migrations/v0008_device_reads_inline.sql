-- fleet history schema, version 8 (issue 17): a node's per-device reads stored inline.
-- Add-only: never edit once released.
--
-- A full discovery reads, per disk, its sysfs state and wwid, and per map its dm name/uuid
-- and its slaves/holders: at 50 maps ~300 outputs of a few dozen bytes each, most of them
-- unique to the node (a wwid, a map's name). Stored as v0002 stores every output (an
-- `outputs` row, two `contents` rows, three SHA-256 digests and their index look-ups) they
-- were ~half of a 50-map node's client CPU in its first scan. Now:
--  * a node run's per-device reads (NodeCommand deviceState, deviceWWID, dmNameUUID,
--    slavesHolders; texts without NUL) are one `device_reads` row: a JSON array of
--    [capture_name, command, exit_code, stdout, stderr] in the order the node ran them,
--    stored once per distinct list (digest: SHA-256 of the text), so an unchanged node's
--    next full discovery points at the same row;
--  * `output_sets.outputs` keeps one element per position: an `outputs.id` (> 0) as before,
--    or -(k + 1) for the k-th entry of the set's `device_reads` row;
--  * `raw_outputs` returns the same rows for both (a JSON string holds any text but NUL,
--    which SQLite's JSON functions cut short: such a text stays an `outputs` row).
-- Sets written before this migration have only ids and no device_reads row.

CREATE TABLE device_reads (
    id      INTEGER PRIMARY KEY,
    digest  BLOB    NOT NULL UNIQUE,
    outputs TEXT    NOT NULL CHECK (json_valid(outputs) AND json_type(outputs) = 'array')
);
ALTER TABLE output_sets ADD COLUMN device_reads_id INTEGER REFERENCES device_reads (id);
CREATE INDEX output_sets_device_reads ON output_sets (device_reads_id) WHERE device_reads_id IS NOT NULL;

-- v0002's trigger counted every element as an outputs.id: only the positive ones are. A
-- negative element must name an entry of the set's device_reads row.
DROP TRIGGER output_sets_ref;
CREATE TRIGGER output_sets_ref AFTER INSERT ON output_sets
BEGIN
    UPDATE outputs SET sets = sets + 1 WHERE id IN (SELECT value FROM json_each(NEW.outputs) WHERE value > 0);
    SELECT RAISE(ABORT, 'output_sets: unknown output id')
    WHERE (SELECT COUNT(*) FROM json_each(NEW.outputs) j JOIN outputs o ON o.id = j.value)
          <> (SELECT COUNT(*) FROM json_each(NEW.outputs) WHERE value > 0);
    SELECT RAISE(ABORT, 'output_sets: unknown device read')
    WHERE EXISTS (SELECT 1 FROM json_each(NEW.outputs)
                  WHERE value <= 0 AND (value = 0 OR -value > coalesce((SELECT json_array_length(d.outputs)
                                                                        FROM device_reads d WHERE d.id = NEW.device_reads_id), 0)));
END;

DROP VIEW raw_outputs;
CREATE VIEW raw_outputs AS
SELECT n.id AS node_run_id, CAST(j.key AS INTEGER) AS position, o.capture_name, o.command, o.exit_code,
       so.body AS stdout, se.body AS stderr
FROM node_runs n
JOIN output_sets s ON s.id = n.output_set_id
JOIN json_each(s.outputs) j
JOIN outputs o ON o.id = j.value
JOIN contents so ON so.id = o.stdout_id
JOIN contents se ON se.id = o.stderr_id
UNION ALL
SELECT n.id, CAST(j.key AS INTEGER),
       json_extract(d.outputs, '$[' || (-1 - j.value) || '][0]'),
       json_extract(d.outputs, '$[' || (-1 - j.value) || '][1]'),
       json_extract(d.outputs, '$[' || (-1 - j.value) || '][2]'),
       json_extract(d.outputs, '$[' || (-1 - j.value) || '][3]'),
       json_extract(d.outputs, '$[' || (-1 - j.value) || '][4]')
FROM node_runs n
JOIN output_sets s ON s.id = n.output_set_id
JOIN device_reads d ON d.id = s.device_reads_id
JOIN json_each(s.outputs) j
WHERE j.value < 0;
