-- fleet history schema, version 6 (issue 17): the residual maps of every stored state, by
-- node and WWID. Add-only: never edit once released.
--
-- `history residuals --since D` starts from the residual maps of every stored state (a state
-- has no time of its own) and keeps the ones whose scans fall in the window. Through
-- maps_verdict it read each of those maps' rows for node, WWID, name and dm (rows spread
-- over the whole file: 11k random reads when no two scans of a node are alike, 1,000 nodes ×
-- 365 days) and sorted them for GROUP BY. This index holds only the residual maps (a few
-- percent of the rows), already in (node, WWID) order and with every column the queries
-- read: the window is one pass over it plus a node_runs_state probe per entry, and a map's
-- first seen is a range of it. The WHERE must stay exactly residualVerdictsSQL
-- (FleetDatabase+Read.swift): SQLite uses a partial index only for a query whose WHERE
-- has that same term.
CREATE INDEX maps_residual ON maps (node, wwid, state_id, verdict, name, dm)
    WHERE verdict IN ('residual', 'residual-hung');
