-- fleet history schema, version 7 (issue 17): a time bound for `history residuals --since`.
-- Add-only: never edit once released.
--
-- A state (node_states) has no time of its own: its scans are the node runs that point at
-- it. `residuals --since D` therefore walked the residual maps of EVERY stored state
-- (maps_residual, v0006) and probed node_runs_state for each to keep those scanned since D:
-- on a history where every scan differs (1,000 nodes x 365 days), 11k probes for the ~900
-- that fall in a 30-day window, ~1.4x the version-1 schema's time. Now each state keeps:
--  * last_seen: the latest started_at of the node runs that point at it. Kept by the
--    triggers below on every insert (and any change of state_id or started_at) of a node
--    run; never lowered (a pruned node run leaves it as it was), so it is never earlier than
--    the state's latest scan: a state with last_seen < D has no scan since D and is skipped;
--  * residual: 1 when one of its maps has a cleanable verdict (set by a trigger as the map
--    is inserted; a state's maps never change).
-- node_states_residual_seen indexes the residual states by last_seen: the states a window
-- needs are one range of it. maps_residual_state gives a state's residual maps (covering,
-- the columns the query reads). Both WHEREs must stay exactly residualVerdictsSQL
-- (FleetStore/FleetDatabase+Read.swift), as for maps_residual (v0006).
ALTER TABLE node_states ADD COLUMN last_seen TEXT;
ALTER TABLE node_states ADD COLUMN residual INTEGER NOT NULL DEFAULT 0 CHECK (residual IN (0, 1));

UPDATE node_states SET last_seen = (SELECT MAX(n.started_at) FROM node_runs n WHERE n.state_id = node_states.id);
UPDATE node_states SET residual = 1
WHERE id IN (SELECT m.state_id FROM maps m WHERE m.verdict IN ('residual', 'residual-hung'));

CREATE INDEX maps_residual_state ON maps (state_id, node, wwid, verdict, name, dm)
    WHERE verdict IN ('residual', 'residual-hung');
CREATE INDEX node_states_residual_seen ON node_states (last_seen) WHERE residual = 1;

CREATE TRIGGER node_runs_state_seen AFTER INSERT ON node_runs WHEN NEW.state_id IS NOT NULL
BEGIN
    UPDATE node_states SET last_seen = NEW.started_at
    WHERE id = NEW.state_id AND (last_seen IS NULL OR last_seen < NEW.started_at);
END;
CREATE TRIGGER node_runs_state_seen_change AFTER UPDATE OF state_id, started_at ON node_runs
WHEN NEW.state_id IS NOT NULL
BEGIN
    UPDATE node_states SET last_seen = NEW.started_at
    WHERE id = NEW.state_id AND (last_seen IS NULL OR last_seen < NEW.started_at);
END;
CREATE TRIGGER maps_state_residual AFTER INSERT ON maps WHEN NEW.verdict IN ('residual', 'residual-hung')
BEGIN
    UPDATE node_states SET residual = 1 WHERE id = NEW.state_id AND residual = 0;
END;
