-- Bulk history for bench/history.sh: DAYS daily sweeps over NODES nodes, 4 maps of 2 paths
-- per reachable node. bench/history.sh substitutes @DAYS@, @NODES@ and @DISTINCT@ and runs
-- this with sqlite3 on a database that fleet already migrated (so the schema and indexes are
-- the real ones). About 1% of node-days are unreachable; map 0 of a node is residual on 3
-- consecutive days out of every 100 (staggered per node), as an unmapped LUN that a sweep
-- cleans a few days later would be: on the last of those days the sweep's cleanup is in
-- `actions` (multipath -f, two flushbufs, two deletes, all ok), for bench/report.sh.
-- Stored as fleet stores it (schema v0002): with DISTINCT=0 each node has two states (all
-- healthy; map 0 residual) that its node runs point at, as fleet writes an unchanged node;
-- with DISTINCT=1 every node run has a state of its own (maps, paths), the worst case for
-- the queries: as if every scan had found something different. No raw outputs.
PRAGMA synchronous = OFF;
PRAGMA foreign_keys = ON;
BEGIN;

WITH RECURSIVE d(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM d WHERE i < @DAYS@ - 1)
INSERT INTO runs (id, kind, started_at, ended_at, inventory, options, status, fleet_version, exit_code, host)
SELECT i + 1, 'sweep',
       strftime('%Y-%m-%dT%H:%M:%fZ', julianday('now') - (@DAYS@ - 1 - i) - 0.1),
       strftime('%Y-%m-%dT%H:%M:%fZ', julianday('now') - (@DAYS@ - 1 - i) - 0.09),
       'bench.yaml', '{"clean":false}', 'ok', 'bench', 1, 'bench'
FROM d;

-- The states: (id, node index, residual). Shared: 2 per node (ids 2n+1 healthy, 2n+2 residual);
-- distinct: one per reachable node run (id = node run id).
CREATE TEMP TABLE gen_states (id INTEGER PRIMARY KEY, n INTEGER, res INTEGER);
WITH RECURSIVE n(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM n WHERE j < @NODES@ - 1)
INSERT INTO gen_states SELECT 2 * j + 1 + r, j, r FROM n CROSS JOIN (SELECT 0 AS r UNION ALL SELECT 1) WHERE @DISTINCT@ = 0;
WITH RECURSIVE d(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM d WHERE i < @DAYS@ - 1),
               n(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM n WHERE j < @NODES@ - 1)
INSERT INTO gen_states
SELECT d.i * @NODES@ + n.j + 1, n.j, ((n.j * 37 + d.i) % 100) < 3
FROM d CROSS JOIN n WHERE @DISTINCT@ = 1 AND (n.j * 31 + d.i) % 97 <> 0;

INSERT INTO node_states (id, node, digest)
SELECT id, printf('node-%04d', n), randomblob(32) FROM gen_states ORDER BY id;

WITH RECURSIVE d(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM d WHERE i < @DAYS@ - 1),
               n(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM n WHERE j < @NODES@ - 1)
INSERT INTO node_runs (id, run_id, node, address, status, started_at, duration_ms, error, warnings, state_id)
SELECT d.i * @NODES@ + n.j + 1, d.i + 1, printf('node-%04d', n.j),
       printf('10.%d.%d.%d', n.j / 65536, (n.j / 256) % 256, n.j % 256),
       CASE WHEN (n.j * 31 + d.i) % 97 = 0 THEN 'connect-timeout' ELSE 'ok' END,
       strftime('%Y-%m-%dT%H:%M:%fZ', julianday('now') - (@DAYS@ - 1 - d.i) - 0.1 + (n.j % 600) / 86400.0),
       1200 + n.j % 300,
       CASE WHEN (n.j * 31 + d.i) % 97 = 0 THEN 'connect timed out after 10s' END,
       '[]',
       CASE WHEN (n.j * 31 + d.i) % 97 = 0 THEN NULL
            WHEN @DISTINCT@ = 1 THEN d.i * @NODES@ + n.j + 1
            ELSE 2 * n.j + 1 + (((n.j * 37 + d.i) % 100) < 3) END
FROM d CROSS JOIN n;

WITH RECURSIVE mk(p) AS (SELECT 0 UNION ALL SELECT p + 1 FROM mk WHERE p < 3)
INSERT INTO maps (state_id, node, position, line, wwid, name, dm, vendor, product, size,
                  features, hwhandler, wp, all_failed, verdict, reasons, evidence)
SELECT id, printf('node-%04d', n), p, 1 + 5 * p,
       printf('3600a0980383030523424457a%05x%02x', n, p),
       'mpath' || char(97 + p), 'dm-' || p, 'NETAPP', 'LUN C-Mode', '10G', '0', '1 alua', 'rw',
       mres, CASE WHEN mres THEN 'residual' ELSE 'healthy' END,
       CASE WHEN mres THEN '["all 2 paths failed faulty","probe: Input/output error"]' ELSE '["all 2 paths active ready"]' END,
       CASE WHEN mres THEN '{"holders":[],"mountpoints":[],"openCount":0,"probe":{"outcome":"io-error"},"queueing":"off","slaves":["sdb","sdc"],"sysfsStates":{"sdb":"running","sdc":"running"}}'
            ELSE '{"holders":[],"mountpoints":[],"slaves":[],"sysfsStates":{}}' END
FROM (SELECT s.id, s.n, mk.p, (mk.p = 0 AND s.res) AS mres FROM gen_states s CROSS JOIN mk)
ORDER BY id, p;

INSERT INTO paths (map_id, group_index, position, policy, prio, group_status, hctl, dev, major_minor,
                   dm_state, checker_state, device_state, sysfs_state)
SELECT m.id, 0, q.p, 'service-time 0', CASE WHEN m.all_failed THEN 0 ELSE 50 END, 'active',
       printf('%d:0:0:%d', 2 + q.p, m.position), 'sd' || char(98 + m.position * 2 + q.p),
       printf('8:%d', 16 * (1 + m.position * 2 + q.p)),
       CASE WHEN m.all_failed THEN 'failed' ELSE 'active' END,
       CASE WHEN m.all_failed THEN 'faulty' ELSE 'ready' END, 'running', 'running'
FROM maps m CROSS JOIN (SELECT 0 AS p UNION ALL SELECT 1) AS q
ORDER BY m.id, q.p;

WITH steps(s, command, kind) AS (VALUES
        (0, 'multipath -f mpatha', 'flush-map'),
        (1, 'blockdev --flushbufs /dev/sdb', 'flush-buffers'),
        (2, 'blockdev --flushbufs /dev/sdc', 'flush-buffers'),
        (3, 'echo 1 > /sys/block/sdb/device/delete', 'delete-device'),
        (4, 'echo 1 > /sys/block/sdc/device/delete', 'delete-device'))
INSERT INTO actions (run_id, node, wwid, map_name, dm, command, kind, planned_at, started_at, ended_at,
                     duration_ms, exit_code, stdout, stderr, outcome)
SELECT nr.run_id, m.node, m.wwid, m.name, m.dm, steps.command, steps.kind,
       strftime('%Y-%m-%dT%H:%M:%fZ', julianday(m.seen_at) + (600 + steps.s) / 86400.0),
       strftime('%Y-%m-%dT%H:%M:%fZ', julianday(m.seen_at) + (600.1 + steps.s) / 86400.0),
       strftime('%Y-%m-%dT%H:%M:%fZ', julianday(m.seen_at) + (600.3 + steps.s) / 86400.0),
       200, 0, '', '', 'ok'
FROM map_observations m CROSS JOIN node_runs nr ON nr.id = m.node_run_id CROSS JOIN steps
WHERE m.verdict = 'residual' AND ((((nr.id - 1) % @NODES@) * 37 + (nr.id - 1) / @NODES@) % 100) = 2
ORDER BY nr.id, m.position, steps.s;

DROP TABLE gen_states;
COMMIT;
