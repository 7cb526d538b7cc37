import Foundation
import FleetModel
import GRDB

// Read side: rebuilding scans for `fleet clean --from-run`, and the `fleet history` queries.
// Listings are newest first; `limit` <= 0 means no limit.
//
// Query plans are pinned where SQLite, without statistics (fleet never runs ANALYZE), would
// pick the (verdict, seen_at) index and walk every residual map in history: CROSS JOIN fixes
// the join order and a unary `+` keeps a term from choosing an index. bench/history.sh
// measures them on 1,000 nodes × 365 days.

/// The verdicts `residuals` lists: the ones `fleet clean` may act on (`Verdict.isCleanable`,
/// the one list), as an SQL list of the stored raw values.
let residualVerdictsSQL = "(" + Verdict.allCases.filter(\.isCleanable).map { "'\($0.rawValue)'" }.joined(separator: ", ") + ")"

extension FleetDatabase {
    // MARK: - Rebuilding scans

    /// Every node of run `run`, rebuilt as the scanner produced it (by node name). Raw
    /// outputs of commands that cannot be rebuilt from their capture name are left out, and a
    /// probe's time limit reads back as 0 (the display text in raw_outputs has it).
    public func nodeScans(run: Int64) throws -> [NodeScan] {
        try pool.read { db in
            let ids = try Int64.fetchAll(db, sql: "SELECT id FROM node_runs WHERE run_id = ? ORDER BY node", arguments: [run])
            return try ids.map { try Self.rebuildScan(db, nodeRunID: $0) }
        }
    }

    /// Node `node`'s latest scan in run `run` (a clean's `--wait` may scan a node twice), or
    /// nil. Without raw outputs: a clean plans from the findings, one node at a time, so that
    /// its memory does not grow with the number of nodes.
    public func nodeScan(run: Int64, node: String) throws -> NodeScan? {
        try pool.read { db in
            // `+run_id`: the (node, started_at) index finds the node's few rows.
            guard let id = try Int64.fetchOne(db, sql: """
                SELECT id FROM node_runs WHERE node = ? AND +run_id = ? ORDER BY id DESC LIMIT 1
                """, arguments: [node, run]) else { return nil }
            return try Self.rebuildScan(db, nodeRunID: id, outputs: false)
        }
    }

    /// The node's latest scan that reached it (status `ok`), whichever run it was in.
    public func latestScan(node: String) throws -> NodeScan? {
        try pool.read { db in
            guard let id = try Int64.fetchOne(db, sql: """
                SELECT id FROM node_runs WHERE node = ? AND status = 'ok' ORDER BY started_at DESC, id DESC LIMIT 1
                """, arguments: [node]) else { return nil }
            return try Self.rebuildScan(db, nodeRunID: id)
        }
    }

    /// The run id of ``latestScan(node:)``.
    public func latestScanRun(node: String) throws -> Int64? {
        try pool.read { db in
            try Int64.fetchOne(db, sql: """
                SELECT run_id FROM node_runs WHERE node = ? AND status = 'ok' ORDER BY started_at DESC, id DESC LIMIT 1
                """, arguments: [node])
        }
    }

    static func rebuildScan(_ db: Database, nodeRunID: Int64, outputs: Bool = true) throws -> NodeScan {
        let decoder = JSONDecoder()
        guard let n = try Row.fetchOne(db, sql: "SELECT * FROM node_runs WHERE id = ?", arguments: [nodeRunID]) else {
            throw StoreError("node_run \(nodeRunID) vanished while reading")
        }
        let statusText: String = n["status"]
        let warningsText: String = n["warnings"]
        var scan = NodeScan(
            node: n["node"], address: n["address"], status: NodeStatus(rawValue: statusText) ?? .nodeError,
            error: n["error"], startedAt: ISOTime.parse(n["started_at"]) ?? Date(timeIntervalSince1970: 0),
            duration: .milliseconds(n["duration_ms"] as Int64),
            warnings: (try? decoder.decode([ParseWarning].self, from: Data(warningsText.utf8))) ?? [])
        let stateID: Int64? = n["state_id"]
        let outputSetID: Int64? = n["output_set_id"]
        scan.phase = (n["phase"] as String?).flatMap(DiscoveryPhase.init(rawValue:)) ?? .full
        scan.phaseNote = n["phase_note"]
        scan.findings = try stateID.map { try Self.findings(db, stateID: $0) } ?? []
        scan.outputs = try outputSetID.flatMap { outputs ? $0 : nil }.map { try Self.outputs(db, setID: $0) } ?? []
        return scan
    }

    /// A state's maps with their paths, verdicts, reasons and evidence, in `multipath -ll` order.
    static func findings(_ db: Database, stateID: Int64) throws -> [MapFinding] {
        let decoder = JSONDecoder()
        var findings: [MapFinding] = []
        // Cached statements (here, in `outputs` and in `previousState`): phase 1 reads one
        // state per node as its scan starts, and compiling these statements again for each
        // node, and the paths one for each map, was ~40% of that read (perf).
        // The columns by position (perf: GRDB's by-name look-up, a case-insensitive walk of the
        // columns per value, was ~20% of reading a 50-map state).
        // Every path of the state in one statement, in map order (perf: one statement per map
        // was ~10% of reading a 50-map state).
        var pathRows = try Row.fetchAll(db.cachedStatement(sql: """
            SELECT p.map_id, p.group_index, p.policy, p.prio, p.group_status, p.hctl, p.dev, p.major_minor,
                   p.dm_state, p.checker_state, p.device_state
            FROM maps m CROSS JOIN paths p ON p.map_id = m.id
            WHERE m.state_id = ? ORDER BY m.position, p.group_index, p.position
            """), arguments: [stateID])[...]
        for r in try Row.fetchAll(db.cachedStatement(sql: """
            SELECT id, name, wwid, dm, vendor, product, size, features, hwhandler, wp, line, verdict, reasons, evidence
            FROM maps WHERE state_id = ? ORDER BY position
            """), arguments: [stateID]) {
            let mapID: Int64 = r[0]
            var groups: [PathGroup] = []
            while let p = pathRows.first, p[0] as Int64 == mapID {
                pathRows.removeFirst()
                let g: Int = p[1]
                while groups.count <= g { groups.append(PathGroup()) }
                groups[g].policy = p[2]; groups[g].prio = p[3]; groups[g].status = p[4]
                groups[g].paths.append(Path(hctl: p[5], dev: p[6], majorMinor: p[7],
                                            dmState: (p[8] as String?).map(DMPathState.init(rawValue:)),
                                            checkerState: (p[9] as String?).map(CheckerState.init(rawValue:)),
                                            deviceState: (p[10] as String?).map(DeviceState.init(rawValue:))))
            }
            let map = MultipathMap(name: r[1], wwid: r[2], dm: r[3], vendor: r[4], product: r[5],
                                   size: r[6], features: r[7], hwhandler: r[8], wp: r[9],
                                   pathGroups: groups, line: r[10])
            let verdictText: String = r[11]
            let reasonsText: String = r[12]
            let evidenceText: String = r[13]
            let verdict = Verdict(rawValue: verdictText) ?? .needsReview
            let reasons = StoredJSON.decodedReasons(reasonsText, decoder) ?? []
            let evidence = StoredJSON.decodedEvidence(evidenceText, decoder) ?? MapEvidence()
            findings.append(MapFinding(map: map, verdict: verdict, reasons: reasons, evidence: evidence))
        }
        return findings
    }

    /// An output set's outputs in order (those `keep` takes); commands that cannot be rebuilt
    /// from their capture name are left out. Texts are read only for the outputs kept (perf:
    /// phase 1 keeps a few of a full discovery's outputs, ~260 KB of text at 50 maps).
    static func outputs(_ db: Database, setID: Int64, keep: (NodeCommand) -> Bool = { _ in true }) throws -> [CommandOutput] {
        guard let set = try Row.fetchOne(db.cachedStatement(sql: """
            SELECT s.outputs, d.outputs FROM output_sets s LEFT JOIN device_reads d ON d.id = s.device_reads_id WHERE s.id = ?
            """), arguments: [setID]) else { return [] }
        let listText: String = set[0]
        guard let items = StoredJSON.decodedIntegers(listText) else {
            throw StoreError("output set \(setID): its list of outputs is not readable")
        }
        // Inline reads (v0008): the k-th is element -(k + 1).
        let reads: [StoredOutput] = try (set[1] as String?).map { text in
            guard let r = StoredJSON.decodedOutputs(text) else { throw StoreError("output set \(setID): its device reads are not readable") }
            return r
        } ?? []
        var byPosition = [CommandOutput?](repeating: nil, count: items.count)
        for (position, item) in items.enumerated() where item < 0 {
            let k = Int(-item - 1)
            guard k < reads.count else { throw StoreError("output set \(setID): device read \(k) missing") }
            let r = reads[k]
            guard let command = NodeCommand(captureName: r.captureName), keep(command) else { continue }
            byPosition[position] = CommandOutput(command: command, stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode)
        }
        if items.contains(where: { $0 > 0 }) {
            let body = try db.cachedStatement(sql: "SELECT body FROM contents WHERE id = ?")
            for o in try Row.fetchAll(db.cachedStatement(sql: """
                SELECT j.key, o.capture_name, o.exit_code, o.stdout_id, o.stderr_id
                FROM output_sets s CROSS JOIN json_each(s.outputs) j CROSS JOIN outputs o ON o.id = j.value
                WHERE s.id = ? AND j.value > 0
                """), arguments: [setID]) {
                let position: Int = o[0]
                guard position < byPosition.count, let command = NodeCommand(captureName: o[1]), keep(command) else { continue }
                let stdoutID: Int64 = o[3], stderrID: Int64 = o[4]
                guard let stdout = try String.fetchOne(body, arguments: [stdoutID]),
                      let stderr = try String.fetchOne(body, arguments: [stderrID]) else {
                    throw StoreError("output set \(setID): a text of output \(command.captureName) is missing")
                }
                byPosition[position] = CommandOutput(command: command, stdout: stdout, stderr: stderr, exitCode: o[2])
            }
        }
        return byPosition.compactMap { $0 }
    }

    /// `node`'s last successful scan, for phase 1 (``PhaseOne``): its state's maps and its
    /// outputs of the phase-1 commands; nil when the history has none. Only a node whose every
    /// map was healthy gets them read: any other gets the full discovery whatever phase 1
    /// would say, so only the verdicts of its maps that were not healthy are read (its phase
    /// note names them): its maps, decoded, would only be held through that discovery (a
    /// 50-map farm's second scan: ~40 such nodes in flight at any time). `fullDiscoveryAt` is the
    /// start of the node's latest successful `full` node run: the one whose state every later
    /// phase-1 run carried (`--full-after`). One read per node, right before its scan, so
    /// a scan holds the previous states of its `--forks` nodes in flight only (a 1,000-node,
    /// 50-map farm read all of them up front: 275 MiB).
    public func previousState(node: String) throws -> PreviousNodeState? {
        try pool.read { db in
            // full_at: the node's few latest rows of node_runs_node_time, newest first, up to
            // the first full one (a day of hourly phase-1 runs is 24 rows).
            guard let r = try Row.fetchOne(db.cachedStatement(sql: """
                SELECT n.state_id, n.output_set_id,
                       EXISTS (SELECT 1 FROM maps m WHERE m.state_id = n.state_id AND m.verdict <> 'healthy') AS unhealthy,
                       (SELECT f.started_at FROM node_runs f INDEXED BY node_runs_node_time
                        WHERE f.node = l.node AND f.status = 'ok' AND f.phase = 'full'
                        ORDER BY f.started_at DESC LIMIT 1) AS full_at
                FROM node_latest l CROSS JOIN node_runs n ON n.id = l.node_run_id
                WHERE l.node = ?
                """), arguments: [node]) else { return nil }
            let stateID: Int64? = r["state_id"], setID: Int64? = r["output_set_id"]
            let unhealthy: Bool = r["unhealthy"]
            let rows = CarriedRows(stateID: stateID, outputSetID: setID)
            let fullAt = (r["full_at"] as String?).flatMap(ISOTime.parse)
            if unhealthy, let stateID {
                let verdicts = try String.fetchAll(db.cachedStatement(sql: """
                    SELECT verdict FROM maps WHERE state_id = ? AND verdict <> 'healthy' ORDER BY position
                    """), arguments: [stateID])
                // As `findings` reads a verdict.
                return PreviousNodeState(rows: rows, notHealthy: verdicts.map { Verdict(rawValue: $0) ?? .needsReview },
                                         fullDiscoveryAt: fullAt)
            }
            var previous = PreviousNodeState(rows: rows, findings: try stateID.map { try Self.findings(db, stateID: $0) } ?? [],
                                             phase1Outputs: [], fullDiscoveryAt: fullAt)
            if let setID {
                previous.phase1Outputs = try Self.outputs(db, setID: setID) { PhaseOne.reads($0) }
            }
            return previous
        }
    }

    // MARK: - History queries

    public func runs(limit: Int = 50, kind: RunKind? = nil, since: Date? = nil) throws -> [RunRecord] {
        try pool.read { db in
            try Row.fetchAll(db, sql: Self.runSelect + """
                WHERE (?1 IS NULL OR r.kind = ?1) AND r.started_at >= ?2
                ORDER BY r.started_at DESC, r.id DESC LIMIT ?3
                """, arguments: [kind?.rawValue, since.map(ISOTime.format) ?? "", limit > 0 ? limit : -1])
                .map(RunRecord.init(row:))
        }
    }

    public func runDetail(id: Int64) throws -> RunDetail? {
        try pool.read { db in
            guard let row = try Row.fetchOne(db, sql: Self.runSelect + "WHERE r.id = ?", arguments: [id]) else { return nil }
            let nodes = try Row.fetchAll(db, sql: """
                SELECT n.*,
                       (SELECT COUNT(*) FROM maps m WHERE m.state_id = n.state_id) AS maps,
                       (SELECT COUNT(*) FROM maps m WHERE m.state_id = n.state_id AND +m.verdict IN \(residualVerdictsSQL)) AS residual_maps
                FROM node_runs n WHERE n.run_id = ? ORDER BY n.node
                """, arguments: [id]).map(NodeRunRecord.init(row:))
            var verdicts: [Verdict: Int] = [:]
            for r in try Row.fetchAll(db, sql: """
                SELECT m.verdict, COUNT(*) AS c FROM node_runs n CROSS JOIN maps m ON m.state_id = n.state_id
                WHERE n.run_id = ? GROUP BY m.verdict
                """, arguments: [id]) {
                if let v = Verdict(rawValue: r["verdict"]) { verdicts[v] = r["c"] }
            }
            var outcomes: [ActionOutcome: Int] = [:]
            for r in try Row.fetchAll(db, sql: "SELECT outcome, COUNT(*) AS c FROM actions WHERE run_id = ? GROUP BY outcome", arguments: [id]) {
                if let o = ActionOutcome(rawValue: r["outcome"]) { outcomes[o] = r["c"] }
            }
            return RunDetail(run: RunRecord(row: row), nodes: nodes, verdicts: verdicts, actionOutcomes: outcomes)
        }
    }

    /// The node's scans, newest first, with their maps (in multipath -ll order).
    public func nodeTimeline(node: String, since: Date? = nil, limit: Int = 30) throws -> [TimelineEntry] {
        try pool.read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT n.id, n.run_id, r.kind, n.started_at, n.status, n.error, n.state_id
                FROM node_runs n JOIN runs r ON r.id = n.run_id
                WHERE n.node = ? AND n.started_at >= ?
                ORDER BY n.started_at DESC, n.id DESC LIMIT ?
                """, arguments: [node, since.map(ISOTime.format) ?? "", limit > 0 ? limit : -1])
            let decoder = JSONDecoder()
            // An unchanged node points at the same state scan after scan: read each once.
            var statesRead: [Int64: [TimelineMap]] = [:]
            return try rows.map { n in
                var maps: [TimelineMap] = []
                if let id = n["state_id"] as Int64? {
                    if let done = statesRead[id] {
                        maps = done
                    } else {
                        maps = try Row.fetchAll(db, sql: """
                            SELECT wwid, name, dm, verdict, all_failed, reasons FROM maps WHERE state_id = ? ORDER BY position
                            """, arguments: [id]).map { m in
                            let reasonsText: String = m["reasons"]
                            return TimelineMap(wwid: m["wwid"], name: m["name"], dm: m["dm"],
                                               verdict: Verdict(rawValue: m["verdict"]) ?? .needsReview, allFailed: m["all_failed"],
                                               reasons: StoredJSON.decodedReasons(reasonsText, decoder) ?? [])
                        }
                        statesRead[id] = maps
                    }
                }
                return TimelineEntry(runID: n["run_id"], runKind: RunKind(rawValue: n["kind"]) ?? .scan,
                                     startedAt: ISOTime.parse(n["started_at"]) ?? Date(timeIntervalSince1970: 0),
                                     status: NodeStatus(rawValue: n["status"]) ?? .nodeError, error: n["error"], maps: maps)
            }
        }
    }

    /// Maps with a residual verdict. `since: nil`: residual in each node's latest successful
    /// scan ("now"), with first/last seen and run count over the whole history.
    /// `since: D`: residual at least once since D, with first/last seen and run count inside
    /// the window, and whether it is still residual now. Sorted by node, then WWID.
    public func residuals(since: Date? = nil, limit: Int = 0) throws -> [ResidualRecord] {
        try pool.read { db in
            // node_latest: each node's latest successful node_run (kept by a trigger). One
            // probe of maps_residual (node, WWID, state): a state's maps carry its node's name
            // (the state's digest includes it), so c.node = w.node holds for every c of l's
            // state; without it the probe was every map ever stored under this WWID.
            let residualNow = """
                EXISTS (SELECT 1 FROM node_latest l CROSS JOIN node_runs ln ON ln.id = l.node_run_id
                        CROSS JOIN maps c INDEXED BY maps_residual ON c.state_id = ln.state_id
                        WHERE l.node = w.node AND c.node = w.node AND c.wwid = w.wwid AND c.verdict IN \(residualVerdictsSQL))
                """
            let sql: String
            let args: StatementArguments
            if let since {
                // The residual states scanned since D are one range of node_states_residual_seen
                // (v0007: last_seen is never earlier than a state's latest scan, so a state
                // before the range has no scan in the window), their residual maps one probe
                // of maps_residual_state each, and each map's scans in the window one range of
                // node_runs_state. One sort of those rows per (node, WWID): the first row is
                // the latest scan (name, dm and verdict come from it; among scans at the same
                // instant, the lowest state id, as when the maps were read in maps_residual
                // order), and the count and first seen are over the whole group.
                sql = """
                    WITH seen AS (SELECT m.node, m.wwid, m.name, m.dm, m.verdict, m.state_id, n.started_at
                                  FROM node_states s INDEXED BY node_states_residual_seen
                                  CROSS JOIN maps m INDEXED BY maps_residual_state ON m.state_id = s.id
                                  CROSS JOIN node_runs n ON n.state_id = m.state_id
                                  WHERE s.residual = 1 AND s.last_seen >= ?1 AND m.verdict IN \(residualVerdictsSQL)
                                    AND n.started_at >= ?1 AND m.wwid IS NOT NULL),
                         win AS (SELECT node, wwid, name, dm, verdict, started_at AS last_seen, COUNT(*) OVER g AS runs,
                                        MIN(started_at) OVER g AS first_seen, ROW_NUMBER() OVER g AS latest
                                 FROM seen
                                 WINDOW g AS (PARTITION BY node, wwid ORDER BY started_at DESC, state_id
                                              ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING))
                    SELECT w.node, w.wwid, w.name, w.dm, w.verdict, w.last_seen, w.runs, w.first_seen,
                           \(residualNow) AS residual_now
                    FROM win w WHERE w.latest = 1 ORDER BY w.node, w.wwid LIMIT ?2
                    """
                args = [ISOTime.format(since), limit > 0 ? limit : -1]
            } else {
                // Name, dm and verdict come from the latest scan (c), one row per group.
                sql = """
                    WITH current AS (SELECT m.node, m.wwid, m.name, m.dm, m.verdict
                                     FROM node_latest l CROSS JOIN node_runs ln ON ln.id = l.node_run_id
                                     CROSS JOIN maps m ON m.state_id = ln.state_id
                                     WHERE +m.verdict IN \(residualVerdictsSQL) AND m.wwid IS NOT NULL)
                    SELECT c.node, c.wwid, c.name, c.dm, c.verdict, MAX(o.started_at) AS last_seen, COUNT(*) AS runs,
                           MIN(o.started_at) AS first_seen, 1 AS residual_now
                    FROM current c CROSS JOIN maps h ON h.wwid = c.wwid AND h.node = c.node AND h.verdict IN \(residualVerdictsSQL)
                    CROSS JOIN node_runs o ON o.state_id = h.state_id
                    GROUP BY c.node, c.wwid ORDER BY c.node, c.wwid LIMIT ?1
                    """
                args = [limit > 0 ? limit : -1]
            }
            return try Row.fetchAll(db, sql: sql, arguments: args).map { r in
                ResidualRecord(node: r["node"], wwid: r["wwid"], name: r["name"], dm: r["dm"],
                               verdict: Verdict(rawValue: r["verdict"]) ?? .residual,
                               firstSeen: ISOTime.parse(r["first_seen"]) ?? Date(timeIntervalSince1970: 0),
                               lastSeen: ISOTime.parse(r["last_seen"]) ?? Date(timeIntervalSince1970: 0),
                               runs: r["runs"], residualNow: r["residual_now"])
            }
        }
    }

    /// Clean actions, newest first.
    public func actions(since: Date? = nil, node: String? = nil, limit: Int = 100) throws -> [ActionRecord] {
        try pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT * FROM actions WHERE planned_at >= ?1 AND (?2 IS NULL OR node = ?2)
                ORDER BY planned_at DESC, id DESC LIMIT ?3
                """, arguments: [since.map(ISOTime.format) ?? "", node, limit > 0 ? limit : -1]).map(ActionRecord.init(row:))
        }
    }

    // MARK: - Report

    /// Every node_run of the runs started since `since`, with its count of cleanable maps,
    /// sorted by node then time (`fleet report`'s heatmap, trend and "keeps coming back").
    public func nodeRunResidues(since: Date? = nil) throws -> [NodeRunResidue] {
        try pool.read { db in
            // From the runs in the window (runs_started) to their node_runs (run_id, node):
            // node_runs has no index on time alone. Per node_run, its state's maps are one
            // range of the (state_id, position) key.
            try Row.fetchAll(db, sql: """
                SELECT n.node, n.run_id, n.started_at, n.status, n.error,
                       (SELECT COUNT(*) FROM maps m WHERE m.state_id = n.state_id AND +m.verdict IN \(residualVerdictsSQL)) AS residual
                FROM runs r CROSS JOIN node_runs n ON n.run_id = r.id
                WHERE r.started_at >= ?
                ORDER BY n.node, n.started_at, n.id
                """, arguments: [since.map(ISOTime.format) ?? ""]).map { r in
                NodeRunResidue(node: r["node"], runID: r["run_id"],
                               startedAt: ISOTime.parse(r["started_at"]) ?? Date(timeIntervalSince1970: 0),
                               status: NodeStatus(rawValue: r["status"]) ?? .nodeError, error: r["error"],
                               residualMaps: r["residual"])
            }
        }
    }

    /// One row per (run, node, WWID) that has actions planned since `since`, oldest first.
    public func mapCleanups(since: Date? = nil) throws -> [MapCleanupRecord] {
        try pool.read { db in
            // `last_outcome`: the outcome of the map's last action (highest id).
            try Row.fetchAll(db, sql: """
                SELECT g.*, (SELECT a.outcome FROM actions a WHERE a.id = g.last_id) AS last_outcome
                FROM (SELECT run_id, node, wwid, MAX(map_name) AS map_name, MAX(dm) AS dm, MIN(planned_at) AS planned_at,
                             COUNT(*) AS actions, MAX(id) AS last_id,
                             SUM(outcome IN ('planned', 'started')) AS unfinished, SUM(outcome = 'skipped') AS skipped,
                             SUM(outcome = 'aborted') AS aborted, SUM(outcome = 'ok') AS ok
                      FROM actions WHERE planned_at >= ?
                      GROUP BY run_id, node, wwid) g
                ORDER BY g.planned_at, g.node, g.wwid
                """, arguments: [since.map(ISOTime.format) ?? ""]).map { r in
                let last: String = r["last_outcome"]
                let outcome: MapCleanupOutcome =
                    (r["unfinished"] as Int) > 0 ? .unfinished
                    : (r["aborted"] as Int) > 0 && (r["ok"] as Int) == 0 ? .aborted
                    : (r["skipped"] as Int) > 0 || last != ActionOutcome.ok.rawValue ? .failed
                    : .cleaned
                return MapCleanupRecord(runID: r["run_id"], node: r["node"], wwid: r["wwid"], mapName: r["map_name"], dm: r["dm"],
                                        plannedAt: ISOTime.parse(r["planned_at"]) ?? Date(timeIntervalSince1970: 0),
                                        actions: r["actions"], outcome: outcome)
            }
        }
    }

    /// The maps of every node's latest successful scan, by node then multipath -ll order.
    public func currentMaps() throws -> [CurrentMapRecord] {
        try pool.read { db in
            let decoder = JSONDecoder()
            return try Row.fetchAll(db, sql: """
                SELECT m.node, n.started_at AS seen_at, m.name, m.wwid, m.dm, m.vendor, m.product, m.size, m.verdict, m.reasons
                FROM node_latest l CROSS JOIN node_runs n ON n.id = l.node_run_id CROSS JOIN maps m ON m.state_id = n.state_id
                ORDER BY m.node, m.position
                """).map { m in
                let reasonsText: String = m["reasons"]
                let map = MultipathMap(name: m["name"], wwid: m["wwid"], dm: m["dm"], vendor: m["vendor"], product: m["product"],
                                       size: m["size"])
                return CurrentMapRecord(node: m["node"], seenAt: ISOTime.parse(m["seen_at"]) ?? Date(timeIntervalSince1970: 0),
                                        map: map, verdict: Verdict(rawValue: m["verdict"]) ?? .needsReview,
                                        reasons: StoredJSON.decodedReasons(reasonsText, decoder) ?? [])
            }
        }
    }

    // MARK: - Prune

    /// Deletes finished runs started before `cutoff` and everything below them (cascade), and
    /// says how many rows of each table went. Running runs are kept. One transaction per run,
    /// oldest first: a large prune never holds the write lock for long (a sweep that starts
    /// meanwhile waits for one run's delete, not for all of them), and an interrupted prune
    /// leaves whole runs, never half of one.
    public func prune(olderThan cutoff: Date) throws -> PruneReport {
        let ids = try pool.read { db in
            try Int64.fetchAll(db, sql: "SELECT id FROM runs WHERE started_at < ? AND status <> 'running' ORDER BY started_at, id",
                               arguments: [ISOTime.format(cutoff)])
        }
        var report = PruneReport(cutoff: cutoff, runs: 0, nodeRuns: 0, maps: 0, paths: 0, rawOutputs: 0, actions: 0,
                                 states: 0, contents: 0)
        for id in ids {
            try pool.write { db in
                func count(_ sql: String) throws -> Int { try Int.fetchOne(db, sql: sql, arguments: [id]) ?? 0 }
                func ids(_ sql: String, _ args: StatementArguments) throws -> [Int64] { try Int64.fetchAll(db, sql: sql, arguments: args) }
                // Rows as the run saw them (maps, paths and outputs of each of its node runs,
                // shared or not), as before stored states were shared.
                let nodeRuns = try count("SELECT COUNT(*) FROM node_runs WHERE run_id = ?1")
                let maps = try count("SELECT COUNT(*) FROM node_runs n CROSS JOIN maps m ON m.state_id = n.state_id WHERE n.run_id = ?1")
                let paths = try count("""
                    SELECT COUNT(*) FROM node_runs n CROSS JOIN maps m ON m.state_id = n.state_id
                    CROSS JOIN paths p ON p.map_id = m.id WHERE n.run_id = ?1
                    """)
                let raw = try count("""
                    SELECT COALESCE(SUM(json_array_length(s.outputs)), 0) FROM node_runs n
                    CROSS JOIN output_sets s ON s.id = n.output_set_id WHERE n.run_id = ?1
                    """)
                let actions = try count("SELECT COUNT(*) FROM actions WHERE run_id = ?1")
                // What the run's node runs point at: freed below once nothing else does.
                let states = try ids("SELECT DISTINCT state_id FROM node_runs WHERE run_id = ? AND state_id IS NOT NULL", [id])
                let sets = try ids("SELECT DISTINCT output_set_id FROM node_runs WHERE run_id = ? AND output_set_id IS NOT NULL", [id])
                // Nodes whose latest successful scan is in this run lose it with the cascade.
                let orphaned = try String.fetchAll(db, sql: "SELECT node FROM node_latest WHERE node_run_id IN (SELECT id FROM node_runs WHERE run_id = ?)", arguments: [id])
                try db.execute(sql: "DELETE FROM runs WHERE id = ? AND status <> 'running'", arguments: [id])
                guard db.changesCount == 1 else { return }  // gone or restarted meanwhile: nothing removed
                for node in orphaned {  // fall back to the newest successful scan left, if any
                    try db.execute(sql: """
                        INSERT INTO node_latest (node, node_run_id, started_at)
                        SELECT node, id, started_at FROM node_runs WHERE node = ? AND status = 'ok'
                        ORDER BY started_at DESC, id DESC LIMIT 1
                        """, arguments: [node])
                }
                let freed = try Self.deleteUnreferenced(states: states, sets: sets, db)
                report.states += freed.states; report.contents += freed.contents
                report.runs += 1; report.nodeRuns += nodeRuns; report.maps += maps
                report.paths += paths; report.rawOutputs += raw; report.actions += actions
            }
        }
        return report
    }

    /// Deletes the given states and output sets if no node run points at them any more, then
    /// the outputs and texts that only they used. Returns how many states and texts went.
    static func deleteUnreferenced(states: [Int64], sets: [Int64], _ db: Database) throws -> (states: Int, contents: Int) {
        var freedStates = 0, freedContents = 0
        for s in states {  // maps and paths go with the state (cascade)
            try db.execute(sql: "DELETE FROM node_states WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM node_runs WHERE state_id = ?1)",
                           arguments: [s])
            freedStates += db.changesCount
        }
        var outputs = Set<Int64>(), reads = Set<Int64>()
        for s in sets {
            guard try Int.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM node_runs WHERE output_set_id = ?)", arguments: [s]) == 0
            else { continue }
            outputs.formUnion(try Int64.fetchAll(db, sql: "SELECT j.value FROM output_sets s, json_each(s.outputs) j WHERE s.id = ? AND j.value > 0",
                                                 arguments: [s]))
            if let r = try Int64.fetchOne(db, sql: "SELECT device_reads_id FROM output_sets WHERE id = ? AND device_reads_id IS NOT NULL",
                                          arguments: [s]) {
                reads.insert(r)
            }
            try db.execute(sql: "DELETE FROM output_sets WHERE id = ?", arguments: [s])  // a trigger counts its outputs down
        }
        for r in reads.sorted() {  // inline reads (v0008) no set lists any more
            try db.execute(sql: "DELETE FROM device_reads WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM output_sets WHERE device_reads_id = ?1)",
                           arguments: [r])
        }
        var contents = Set<Int64>()
        for o in outputs.sorted() {
            guard let row = try Row.fetchOne(db, sql: "SELECT stdout_id, stderr_id FROM outputs WHERE id = ? AND sets = 0", arguments: [o])
            else { continue }
            contents.insert(row["stdout_id"]); contents.insert(row["stderr_id"])
            try db.execute(sql: "DELETE FROM outputs WHERE id = ?", arguments: [o])
        }
        for c in contents.sorted() {
            try db.execute(sql: """
                DELETE FROM contents WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM outputs WHERE stdout_id = ?1)
                  AND NOT EXISTS (SELECT 1 FROM outputs WHERE stderr_id = ?1)
                """, arguments: [c])
            freedContents += db.changesCount
        }
        return (freedStates, freedContents)
    }

    /// SQLite's integrity_check and foreign_key_check; empty when the file is consistent.
    public func consistencyProblems() throws -> [String] {
        try pool.read { db in
            let integrity = try String.fetchAll(db, sql: "PRAGMA integrity_check").filter { $0 != "ok" }
            let fk = try Row.fetchAll(db, sql: "PRAGMA foreign_key_check").map { "foreign key: \($0)" }
            // v0007's bounds: a state's last_seen is never earlier than a scan of it, and its
            // residual flag says whether it has a cleanable map (residuals --since relies on both).
            let seen = try String.fetchAll(db, sql: """
                SELECT 'node_states ' || s.id || ': last_seen ' || coalesce(s.last_seen, 'NULL') || ' before its scan at ' || MAX(n.started_at)
                FROM node_states s CROSS JOIN node_runs n ON n.state_id = s.id
                GROUP BY s.id HAVING s.last_seen IS NULL OR s.last_seen < MAX(n.started_at)
                """)
            let flags = try String.fetchAll(db, sql: """
                SELECT 'node_states ' || s.id || ': residual ' || s.residual || ', cleanable maps ' || (
                    SELECT COUNT(*) FROM maps m WHERE m.state_id = s.id AND +m.verdict IN \(residualVerdictsSQL))
                FROM node_states s
                WHERE s.residual <> EXISTS (SELECT 1 FROM maps m WHERE m.state_id = s.id AND +m.verdict IN \(residualVerdictsSQL))
                """)
            return integrity + fk + seen + flags
        }
    }

    static let runSelect = """
        SELECT r.*,
               (SELECT COUNT(*) FROM node_runs n WHERE n.run_id = r.id) AS nodes,
               (SELECT COUNT(*) FROM node_runs n WHERE n.run_id = r.id AND n.status = 'ok') AS nodes_ok,
               (SELECT COUNT(*) FROM node_runs n CROSS JOIN maps m ON m.state_id = n.state_id
                 WHERE n.run_id = r.id AND +m.verdict IN \(residualVerdictsSQL)) AS residual_maps,
               (SELECT COUNT(*) FROM actions a WHERE a.run_id = r.id) AS actions
        FROM runs r

        """
}

extension RunRecord {
    init(row r: Row) {
        id = r["id"]; kind = RunKind(rawValue: r["kind"]) ?? .scan
        startedAt = ISOTime.parse(r["started_at"]) ?? Date(timeIntervalSince1970: 0)
        endedAt = (r["ended_at"] as String?).flatMap(ISOTime.parse)
        inventory = r["inventory"]; options = r["options"]
        status = RunStatus(rawValue: r["status"]) ?? .failed
        fleetVersion = r["fleet_version"]; exitCode = r["exit_code"]
        nodes = r["nodes"]; nodesOK = r["nodes_ok"]; residualMaps = r["residual_maps"]; actions = r["actions"]
    }
}

extension NodeRunRecord {
    init(row r: Row) {
        id = r["id"]; runID = r["run_id"]; node = r["node"]; address = r["address"]
        status = NodeStatus(rawValue: r["status"]) ?? .nodeError
        startedAt = ISOTime.parse(r["started_at"]) ?? Date(timeIntervalSince1970: 0)
        durationMS = r["duration_ms"]; error = r["error"]; maps = r["maps"]; residualMaps = r["residual_maps"]
    }
}

extension ActionRecord {
    init(row r: Row) {
        id = r["id"]; runID = r["run_id"]; node = r["node"]; wwid = r["wwid"]
        mapName = r["map_name"]; dm = r["dm"]; command = r["command"]; kind = r["kind"]
        plannedAt = ISOTime.parse(r["planned_at"]) ?? Date(timeIntervalSince1970: 0)
        startedAt = (r["started_at"] as String?).flatMap(ISOTime.parse)
        endedAt = (r["ended_at"] as String?).flatMap(ISOTime.parse)
        durationMS = r["duration_ms"]; exitCode = r["exit_code"]; stdout = r["stdout"]; stderr = r["stderr"]
        outcome = ActionOutcome(rawValue: r["outcome"]) ?? .failed; reason = r["reason"]
    }
}
