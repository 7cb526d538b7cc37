-- Issue #17: two-phase discovery. Which discovery each node run got:
--  * 'full': the whole discovery script (every node before this migration);
--  * 'phase1': only the first, cheap read (multipathd show maps json, each disk's sysfs
--    state and wwid) ran, showed every path active and the same bytes as the node's last
--    full discovery, so that discovery's state and output set were carried: the node run
--    points at the same node_states and output_sets rows (its phase-1 outputs are in that
--    set, byte for byte; the rest are the last full discovery's reads).
-- phase_note says why a node got the full discovery when phase 1 was possible or tried
-- (no earlier scan, a map not healthy, a failed path, a changed map set, ...).
ALTER TABLE node_runs ADD COLUMN phase TEXT NOT NULL DEFAULT 'full' CHECK (phase IN ('full', 'phase1'));
ALTER TABLE node_runs ADD COLUMN phase_note TEXT;
