-- Issue #15: more witnesses before any delete.
--
-- 1. Two verdicts: 'attached-but-dead' (every path failed, yet Kubernetes has the WWID
--    attached to the node: a storage outage) and 'lun-reuse-hazard' (a path disk's own
--    wwid or the dm uuid names another LUN). SQLite cannot change a CHECK in place, so
--    maps is rebuilt (SQLite's documented 12-step procedure; GRDB runs each migration with
--    foreign keys off and checks them at the end). Rows, ids and indexes stay the same.
-- map_observations (v0002, v0003) reads maps: dropped here and recreated unchanged below.
DROP VIEW map_observations;
CREATE TABLE maps_v3 (
    id          INTEGER PRIMARY KEY,
    state_id    INTEGER NOT NULL REFERENCES node_states (id) ON DELETE CASCADE,
    node        TEXT    NOT NULL,
    position    INTEGER NOT NULL,
    line        INTEGER NOT NULL DEFAULT 0,
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
                    'path-loss', 'needs-review', 'attached-but-dead', 'lun-reuse-hazard')),
    reasons     TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(reasons)),
    -- evidence.kubernetes: what the API said about this map ({"state": "clear" | "attached"
    -- | "unknown", "detail", "source", "volumeAttachment", "persistentVolume"}).
    evidence    TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(evidence)),
    UNIQUE (state_id, position)
);
INSERT INTO maps_v3 (id, state_id, node, position, line, wwid, name, dm, vendor, product, size, features,
                     hwhandler, wp, all_failed, verdict, reasons, evidence)
SELECT id, state_id, node, position, line, wwid, name, dm, vendor, product, size, features,
       hwhandler, wp, all_failed, verdict, reasons, evidence
FROM maps ORDER BY id;
DROP TABLE maps;
ALTER TABLE maps_v3 RENAME TO maps;
CREATE INDEX maps_wwid ON maps (wwid, node, all_failed, verdict, state_id);
CREATE INDEX maps_verdict ON maps (verdict, state_id);
CREATE VIEW map_observations AS
SELECT m.id AS map_id, n.id AS node_run_id, n.node, n.started_at AS seen_at, m.position, m.line, m.wwid,
       m.name, m.dm, m.vendor, m.product, m.size, m.features, m.hwhandler, m.wp, m.all_failed, m.verdict,
       m.reasons, m.evidence
FROM node_runs n JOIN maps m ON m.state_id = n.state_id;

-- 2. Per run: which cluster/context answered (or why none did). A run without a row did
--    not ask Kubernetes (--no-kubernetes, or fleet before this migration).
CREATE TABLE kubernetes_witness (
    run_id       INTEGER PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    asked_at     TEXT    NOT NULL,
    status       TEXT    NOT NULL CHECK (status IN ('answered', 'unavailable')),
    -- unavailable: kubectl-missing, unreachable, unauthorized, forbidden, credential, timeout, failed, bad-output
    failure      TEXT,
    message      TEXT,
    context      TEXT,
    cluster      TEXT,
    server       TEXT,
    volume_attachments INTEGER,
    persistent_volumes INTEGER,
    nodes        INTEGER,
    CHECK ((status = 'answered') = (failure IS NULL))
);
