import Foundation
import FleetMigrations
import FleetModel
import GRDB

/// The SQLite history (GRDB over the system libsqlite3), in WAL mode with foreign keys on.
///
/// Every write is one transaction: a run row, one node's whole result, one action state
/// change. A process killed at any point leaves a database that opens, with every node it
/// finished; the run it was writing is marked `interrupted` by the next process that opens
/// the file (and only once its writer is really gone).
public final class FleetDatabase: Sendable {
    public let path: String
    let pool: DatabasePool

    /// Opens (creating parent folders and the file when missing) and migrates.
    public init(path: String) throws {
        self.path = path
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty {
            do {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            } catch {
                throw StoreError("cannot create the folder of the history database \"\(path)\": \(error)")
            }
        }
        // Opening and migrating hold an flock on the database's folder. GRDB's migrator reads
        // which migrations are applied outside the transactions that apply them, so two
        // processes opening a new history at once (a sweep and a `fleet history`, two scans)
        // both run v0001 and the slower one fails on "table already exists" (seen in CI and
        // reproduced with three concurrent scans). The folder, not a file beside the database:
        // nothing new to leave behind, and the kernel drops the lock if this process dies. A
        // folder that cannot be locked (flock unsupported there) opens as before.
        let folderLock = FolderLock(dir.isEmpty ? "." : dir)
        defer { folderLock.release() }
        var config = Configuration()
        config.foreignKeysEnabled = true
        // A sweep and a `fleet history` may share the file; wait for each other's writes.
        config.busyMode = .timeout(15)
        config.label = "fleet-history"
        // SQLite's default page cache is 2 MiB per connection, and a pool has a writer and up
        // to five readers. A clean or a sweep reads and writes a few pages per node, spread
        // over the whole history, so the caches filled for as long as the run lasted: +8.6 MiB
        // of peak RSS over a 1,000-node clean, i.e. memory that grew with the fleet (issue
        // #13, bench/clean.sh). A small cache keeps what is re-read (the b-trees' upper pages);
        // the rest comes from the kernel's page cache.
        config.prepareDatabase { db in try db.execute(sql: "PRAGMA cache_size = -\(FleetDatabase.pageCacheKiB)") }
        do {
            pool = try DatabasePool(path: path, configuration: config)
        } catch {
            throw StoreError("cannot open the history database \"\(path)\": \(error)")
        }
        var migrator = DatabaseMigrator()
        for m in FleetMigrations.all {
            let sql = m.sql
            migrator.registerMigration(m.id) { db in try db.execute(sql: sql) }
        }
        do {
            let m = migrator
            if try pool.read({ try m.hasBeenSuperseded($0) }) {
                throw StoreError("the history database \"\(path)\" was written by a newer fleet (unknown schema migrations); use that version or another --db")
            }
            try migrator.migrate(pool)
        } catch let e as StoreError {
            throw e
        } catch {
            throw StoreError("cannot migrate the history database \"\(path)\": \(error)")
        }
        try markInterruptedRuns()
    }

    /// Each connection's SQLite page cache, in KiB (`PRAGMA cache_size`; see `init`).
    static let pageCacheKiB = 512

    /// `$FLEET_DB`, else `$XDG_STATE_HOME/fleet/history.sqlite`, else
    /// `$HOME/.local/state/fleet/history.sqlite` (relative XDG values are ignored, as the
    /// XDG spec says).
    public static func defaultPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let p = environment["FLEET_DB"], !p.isEmpty { return p }
        if let x = environment["XDG_STATE_HOME"], x.hasPrefix("/") {
            return x + "/fleet/history.sqlite"
        }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return home + "/.local/state/fleet/history.sqlite"
    }

    // MARK: - Runs

    /// The history of one scan, clean or sweep: the database at `path` opened (created and
    /// migrated when needed; runs of a dead writer marked interrupted) and a run begun.
    public static func beginRun(path: String, kind: RunKind, inventory: String?, options: some Encodable & Sendable,
                                version: String, startedAt: Date) throws -> (db: FleetDatabase, run: Int64) {
        let db = try FleetDatabase(path: path)
        let run = try db.beginRun(kind: kind, inventory: inventory, options: options, version: version, startedAt: startedAt)
        return (db, run)
    }

    /// Writes a `running` run row and returns its id. `options` is stored as JSON.
    public func beginRun(kind: RunKind, inventory: String?, options: some Encodable & Sendable,
                         version: String, startedAt: Date = Date()) throws -> Int64 {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = String(decoding: try encoder.encode(options), as: UTF8.self)
        let me = ProcessIdentity.current
        return try pool.write { db in
            try db.execute(sql: """
                INSERT INTO runs (kind, started_at, inventory, options, status, fleet_version, host, pid, pid_start)
                VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?)
                """, arguments: [kind.rawValue, ISOTime.format(startedAt), inventory, json, version,
                                 me.host, me.pid, me.start])
            return db.lastInsertedRowID
        }
    }

    public func finishRun(_ run: Int64, status: RunStatus, exitCode: Int32?, endedAt: Date = Date()) throws {
        guard status != .running else { throw StoreError("finishRun(\(run)): a finished run cannot be 'running'") }
        try pool.write { db in
            try db.execute(sql: "UPDATE runs SET status = ?, exit_code = ?, ended_at = ? WHERE id = ?",
                           arguments: [status.rawValue, exitCode, ISOTime.format(endedAt), run])
            if db.changesCount == 0 { throw StoreError("finishRun: no run \(run) in \(path)") }
        }
    }

    /// Marks `running` runs whose writer is gone as `interrupted`. Runs written on another
    /// host (a database on shared storage) are left alone: their writer cannot be checked.
    @discardableResult
    public func markInterruptedRuns(now: Date = Date()) throws -> [Int64] {
        let me = ProcessIdentity.current
        // Read first: most opens find no running run, and a history query then takes no write lock.
        let rows = try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT id, host, pid, pid_start FROM runs WHERE status = 'running'")
        }
        var dead: [Int64] = []
        for r in rows {
            let host: String = r["host"]
            guard host == me.host || host.isEmpty else { continue }
            let pid: Int32? = r["pid"]
            let start: String? = r["pid_start"]
            if let pid, let start, ProcessIdentity.start(of: pid) == start { continue }  // still writing
            dead.append(r["id"])
        }
        guard !dead.isEmpty else { return [] }
        return try pool.write { db in
            var marked: [Int64] = []
            for id in dead {
                try db.execute(sql: "UPDATE runs SET status = 'interrupted', ended_at = ? WHERE id = ? AND status = 'running'",
                               arguments: [ISOTime.format(now), id])
                if db.changesCount == 1 { marked.append(id) }
            }
            return marked
        }
    }

    // MARK: - Nodes

    /// Writes one node's whole result (node_run, maps, paths, raw outputs) in ONE
    /// transaction: after a crash it is either all there or not at all.
    @discardableResult
    public func recordNode(run: Int64, _ scan: NodeScan) throws -> Int64 {
        let rows = try PreparedNode(scan)
        return try pool.write { db in
            var seen = SeenRows()
            return try Self.insert(rows, run: run, db, &seen)
        }
    }

    /// Writes several nodes' whole results in ONE transaction (all or none of them), in
    /// order; returns their node_run ids. ``NodeRecorder`` uses it to batch a scan's nodes.
    @discardableResult
    public func recordNodes(run: Int64, _ scans: [NodeScan]) throws -> [Int64] {
        let rows = try scans.map(PreparedNode.init)
        return try pool.write { db in
            var seen = SeenRows()
            return try rows.map { try Self.insert($0, run: run, db, &seen) }
        }
    }

    /// A node's rows with their JSON columns encoded and their digests computed, ready to
    /// insert (all of it happens before the write transaction, so the writer lock is held
    /// for the look-ups and inserts only).
    struct PreparedNode {
        var scan: NodeScan
        var seen: String
        var warnings: String
        var maps: [(finding: MapFinding, reasons: String, evidence: String)]
        /// `node_states.digest`: the node name and every map and path column; nil without maps.
        var stateDigest: Data?
        /// The outputs stored as `outputs` rows (with their texts in `contents`), in order.
        var outputs: [PreparedOutput]
        /// The per-device reads stored inline (`device_reads`, v0008); nil when there are none.
        var reads: PreparedReads?
        /// Every output in the order the node ran them: `outputs[i]` or `reads` entry k.
        var items: [OutputItem]
        /// `output_sets.digest`: each item (a row's digest, or a read's index) in order, then
        /// the reads' digest; nil without outputs.
        var outputSetDigest: Data?

        init(_ scan: NodeScan) throws {
            self.scan = scan
            seen = ISOTime.format(scan.startedAt)
            // "[]" is what the encoder prints for no warnings (most nodes); skip encoding it.
            warnings = scan.warnings.isEmpty ? "[]" : try StoredJSON.encoded(scan.warnings)
            // A phase-1-only node points at rows already stored: nothing to encode or digest.
            maps = scan.carried != nil ? [] : try scan.findings.map { f in
                (f, try StoredJSON.reasons(f.reasons), try StoredJSON.evidence(f.evidence))
            }
            if !maps.isEmpty {
                var d = StoredDigest(kind: "node-state-1")
                d.add(scan.node)
                d.add(maps.count)
                for (f, reasons, evidence) in maps {
                    let m = f.map
                    d.add(m.line); d.add(m.wwid); d.add(m.name); d.add(m.dm); d.add(m.vendor); d.add(m.product)
                    d.add(m.size); d.add(m.features); d.add(m.hwhandler); d.add(m.wp)
                    d.add(m.allPathsFailed ? 1 : 0); d.add(f.verdict.rawValue); d.add(reasons); d.add(evidence)
                    d.add(m.pathGroups.count)
                    for group in m.pathGroups {
                        d.add(group.policy); d.add(group.prio); d.add(group.status); d.add(group.paths.count)
                        for p in group.paths {
                            d.add(p.hctl); d.add(p.dev); d.add(p.majorMinor); d.add(p.dmState?.rawValue); d.add(p.checkerState?.rawValue)
                            d.add(p.deviceState?.rawValue); d.add(p.dev.flatMap { f.evidence.sysfsStates[$0] }?.rawValue)
                        }
                    }
                }
                stateDigest = d.digest()
            }
            outputs = []
            items = []
            items.reserveCapacity(scan.outputs.count)
            var inline: [StoredOutput] = []
            for o in scan.outputs {
                if Self.storedInline(o) {
                    items.append(.read(inline.count))
                    inline.append(StoredOutput(captureName: o.command.captureName, command: FleetDatabase.displayCache.display(o.command),
                                               exitCode: o.exitCode, stdout: o.stdout, stderr: o.stderr))
                } else {
                    items.append(.row(outputs.count))
                    outputs.append(PreparedOutput(o))
                }
            }
            reads = inline.isEmpty ? nil : try PreparedReads(inline)
            if !items.isEmpty {
                // Without inline reads, v0002's digest: sets written before v0008 are found again.
                var d = StoredDigest(kind: reads == nil ? "output-set-1" : "output-set-2")
                for item in items {
                    switch item {
                    case .row(let i): d.add(outputs[i].digest)
                    case .read(let k): d.add(k)
                    }
                }
                if let reads { d.add(reads.digest) }
                outputSetDigest = d.digest()
            }
        }

        /// A disk's sysfs state and wwid, a map's dm name/uuid and slaves/holders: a few dozen
        /// bytes each, one per disk or map, mostly unique to the node (perf: as rows, each cost
        /// an `outputs` row, two `contents` look-ups and three digests, ~140k instructions; at
        /// 50 maps ~half of a node's first scan). A text with NUL stays a row: SQLite's JSON
        /// functions (the `raw_outputs` view) cut a string at `\u0000`.
        static func storedInline(_ o: CommandOutput) -> Bool {
            switch o.command {
            case .deviceState, .deviceWWID, .dmNameUUID, .slavesHolders:
                return !o.stdout.utf8.contains(0) && !o.stderr.utf8.contains(0)
            default:
                return false
            }
        }
    }

    enum OutputItem {
        case row(Int)
        case read(Int)
    }

    /// A node run's inline reads: their JSON text and its SHA-256 (`device_reads.digest`).
    struct PreparedReads {
        var text: String
        var digest: Data

        init(_ outputs: [StoredOutput]) throws {
            text = try StoredJSON.outputs(outputs)
            digest = StoredDigest.of(text: text)
        }
    }

    /// One raw output with its command text and digests.
    struct PreparedOutput {
        var output: CommandOutput
        var command: String
        var stdoutDigest: Data
        var stderrDigest: Data
        /// `outputs.digest`: capture name, command text, exit code, and the two texts' digests.
        var digest: Data

        init(_ o: CommandOutput) {
            output = o
            command = FleetDatabase.displayCache.display(o.command)
            stdoutDigest = StoredDigest.of(text: o.stdout)
            stderrDigest = StoredDigest.of(text: o.stderr)
            var d = StoredDigest(kind: "output-1")
            d.add(o.command.captureName); d.add(command); d.add(o.exitCode.map(Int64.init))
            d.add(stdoutDigest); d.add(stderrDigest)
            digest = d.digest()
        }
    }

    /// The outputs and texts found or written so far in ONE write transaction, by digest
    /// (perf: a batch's nodes share most per-disk outputs, each was looked up again per
    /// node). Never kept past the transaction: a rolled-back id must not be reused.
    struct SeenRows {
        var outputs: [Data: Int64] = [:]
        var contents: [Data: Int64] = [:]
    }

    private static func insert(_ node: PreparedNode, run: Int64, _ db: Database, _ seen: inout SeenRows) throws -> Int64 {
        let scan = node.scan
        let stateID = try scan.carried.map(\.stateID) ?? node.stateDigest.map { try Self.stateID(node, digest: $0, db) }
        let outputSetID = try scan.carried.map(\.outputSetID)
            ?? node.outputSetDigest.map { try Self.outputSetID(node, digest: $0, db, &seen) }
        // Cached statements: compiled once per connection, not once per row (perf).
        try db.cachedStatement(sql: """
            INSERT INTO node_runs (run_id, node, address, status, started_at, duration_ms, error, warnings,
                                   state_id, output_set_id, phase, phase_note)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [run, scan.node, scan.address, scan.status.rawValue, node.seen,
                             scan.duration.milliseconds, scan.error, node.warnings, stateID, outputSetID,
                             scan.phase.rawValue, scan.phaseNote])
        return db.lastInsertedRowID
    }

    /// The node's state with this digest: found (unchanged since a scan that saw it, most
    /// nodes most of the time) or written now with its maps and paths.
    private static func stateID(_ node: PreparedNode, digest: Data, _ db: Database) throws -> Int64 {
        if let id = try Int64.fetchOne(db.cachedStatement(sql: "SELECT id FROM node_states WHERE digest = ?"),
                                       arguments: [digest]) {
            return id
        }
        let scan = node.scan
        try db.cachedStatement(sql: "INSERT INTO node_states (node, digest) VALUES (?, ?)")
            .execute(arguments: [scan.node, digest])
        let stateID = db.lastInsertedRowID
        // Looked up once per node, not per row (perf: the cache is keyed by the SQL text).
        let insertMap = try db.cachedStatement(sql: """
            INSERT INTO maps (state_id, node, position, line, wwid, name, dm, vendor, product,
                              size, features, hwhandler, wp, all_failed, verdict, reasons, evidence)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        let insertPath = try db.cachedStatement(sql: """
            INSERT INTO paths (map_id, group_index, position, policy, prio, group_status, hctl, dev,
                               major_minor, dm_state, checker_state, device_state, sysfs_state)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        for (position, (f, reasons, evidence)) in node.maps.enumerated() {
            let m = f.map
            try insertMap.execute(arguments: [stateID, scan.node, position, m.line, m.wwid, m.name, m.dm,
                                              m.vendor, m.product, m.size, m.features, m.hwhandler, m.wp,
                                              m.allPathsFailed, f.verdict.rawValue, reasons, evidence])
            let mapID = db.lastInsertedRowID
            for (g, group) in m.pathGroups.enumerated() {
                for (i, p) in group.paths.enumerated() {
                    let sysfs = p.dev.flatMap { f.evidence.sysfsStates[$0] }
                    try insertPath.execute(arguments: [mapID, g, i, group.policy, group.prio, group.status, p.hctl, p.dev,
                                                       p.majorMinor, p.dmState?.rawValue, p.checkerState?.rawValue,
                                                       p.deviceState?.rawValue, sysfs?.rawValue])
                }
            }
        }
        return stateID
    }

    /// The output set with this digest: found, or written now (its inline reads, and each
    /// output and text, found or written in turn).
    private static func outputSetID(_ node: PreparedNode, digest: Data, _ db: Database,
                                    _ seen: inout SeenRows) throws -> Int64 {
        if let id = try Int64.fetchOne(db.cachedStatement(sql: "SELECT id FROM output_sets WHERE digest = ?"),
                                       arguments: [digest]) {
            return id
        }
        let readsID = try node.reads.map { try deviceReadsID($0, db) }
        var ids: [Int64] = []
        ids.reserveCapacity(node.outputs.count)
        let findOutput = try db.cachedStatement(sql: "SELECT id FROM outputs WHERE digest = ?")
        for o in node.outputs {
            if let id = try seen.outputs[o.digest] ?? Int64.fetchOne(findOutput, arguments: [o.digest]) {
                seen.outputs[o.digest] = id
                ids.append(id)
                continue
            }
            let out = try contentID(o.output.stdout, digest: o.stdoutDigest, db, &seen)
            let err = try contentID(o.output.stderr, digest: o.stderrDigest, db, &seen)
            try db.cachedStatement(sql: """
                INSERT INTO outputs (digest, capture_name, command, exit_code, stdout_id, stderr_id)
                VALUES (?, ?, ?, ?, ?, ?)
                """).execute(arguments: [o.digest, o.output.command.captureName, o.command, o.output.exitCode, out, err])
            seen.outputs[o.digest] = db.lastInsertedRowID
            ids.append(db.lastInsertedRowID)
        }
        // One element per position: an outputs.id, or -(k + 1) for the k-th inline read (v0008).
        var list = "["
        for (i, item) in node.items.enumerated() {
            if i > 0 { list += "," }
            switch item {
            case .row(let r): list += String(ids[r])
            case .read(let k): list += String(-(k + 1))
            }
        }
        list += "]"
        try db.cachedStatement(sql: "INSERT INTO output_sets (digest, outputs, device_reads_id) VALUES (?, ?, ?)")
            .execute(arguments: [digest, list, readsID])
        return db.lastInsertedRowID
    }

    /// The inline reads with this digest: found (the node's last full discovery read the same,
    /// most of the time) or written now.
    private static func deviceReadsID(_ reads: PreparedReads, _ db: Database) throws -> Int64 {
        if let id = try Int64.fetchOne(db.cachedStatement(sql: "SELECT id FROM device_reads WHERE digest = ?"),
                                       arguments: [reads.digest]) {
            return id
        }
        try db.cachedStatement(sql: "INSERT INTO device_reads (digest, outputs) VALUES (?, ?)")
            .execute(arguments: [reads.digest, reads.text])
        return db.lastInsertedRowID
    }

    private static func contentID(_ text: String, digest: Data, _ db: Database, _ seen: inout SeenRows) throws -> Int64 {
        if let id = try seen.contents[digest]
            ?? Int64.fetchOne(db.cachedStatement(sql: "SELECT id FROM contents WHERE digest = ?"), arguments: [digest]) {
            seen.contents[digest] = id
            return id
        }
        try db.cachedStatement(sql: "INSERT INTO contents (digest, body) VALUES (?, ?)").execute(arguments: [digest, text])
        seen.contents[digest] = db.lastInsertedRowID
        return db.lastInsertedRowID
    }

    /// `NodeCommand.display` per command: every node stores the same ~20 commands (perf:
    /// building each text again was ~1% of a scan's CPU).
    static let displayCache = DisplayCache()

    /// Times (ascending) at which `wwid` was seen on `node` with every path failed, in any
    /// recorded scan, optionally only since `since`. `fleet clean` uses it to require a map
    /// to be residual over time before touching it.
    public func allFailedObservations(node: String, wwid: String, since: Date?) throws -> [Date] {
        try pool.read { db in
            try String.fetchAll(db, sql: """
                SELECT n.started_at FROM maps m CROSS JOIN node_runs n ON n.state_id = m.state_id
                WHERE m.wwid = ? AND m.node = ? AND m.all_failed = 1 AND n.started_at >= ?
                ORDER BY n.started_at
                """, arguments: [wwid, node, since.map(ISOTime.format) ?? ""])
        }.compactMap(ISOTime.parse)
    }

    // MARK: - Actions (clean audit)

    /// Written BEFORE the action is sent, so a killed run leaves a trace of what it was
    /// about to do (see ``unfinishedActions(node:)``). `command` is the display text.
    public func recordPlannedAction(run: Int64, node: String, wwid: String, mapName: String?, dm: String?,
                                    command: String, kind: ActionKind, plannedAt: Date = Date()) throws -> Int64 {
        try pool.write { db in
            try db.execute(sql: """
                INSERT INTO actions (run_id, node, wwid, map_name, dm, command, kind, planned_at, outcome)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'planned')
                """, arguments: [run, node, wwid, mapName, dm, command, kind.rawValue, ISOTime.format(plannedAt)])
            return db.lastInsertedRowID
        }
    }

    /// The same for a typed command; a read is not an action and is refused.
    public func recordPlannedAction(run: Int64, node: String, wwid: String, mapName: String?, dm: String?,
                                    command: NodeCommand, plannedAt: Date = Date()) throws -> Int64 {
        guard let kind = command.actionKind else { throw StoreError("\(command.display): not a cleanup action") }
        return try recordPlannedAction(run: run, node: node, wwid: wwid, mapName: mapName, dm: dm,
                                       command: command.display, kind: kind, plannedAt: plannedAt)
    }

    /// The verification after a map's steps, as a finished `verify` row: `ok` when the map,
    /// its disks and their by-id links were seen gone, `failed` (with why) when not. A map's
    /// cleanup reads as cleaned in the history only when its last row is ok.
    public func recordVerification(run: Int64, node: String, wwid: String, mapName: String?, dm: String?,
                                   verified: Bool, reason: String, at: Date = Date()) throws {
        let t = ISOTime.format(at)
        try pool.write { db in
            try db.execute(sql: """
                INSERT INTO actions (run_id, node, wwid, map_name, dm, command, kind, planned_at, started_at, ended_at, outcome, reason)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [run, node, wwid, mapName, dm, "verify: map, disks and by-id links gone", ActionKind.verify.rawValue,
                                 t, t, t, (verified ? ActionOutcome.ok : .failed).rawValue, reason])
        }
    }

    public func recordActionStarted(id: Int64, at: Date = Date()) throws {
        try pool.write { db in
            try db.execute(sql: "UPDATE actions SET outcome = 'started', started_at = ? WHERE id = ? AND outcome = 'planned'",
                           arguments: [ISOTime.format(at), id])
            if db.changesCount == 0 { throw StoreError("action \(id): not found or not in state 'planned'") }
        }
    }

    public func recordActionOutcome(id: Int64, outcome: ActionOutcome, exitCode: Int32?, stdout: String?,
                                    stderr: String?, duration: Duration?, reason: String?,
                                    endedAt: Date = Date()) throws {
        guard outcome.isFinished else { throw StoreError("action \(id): outcome '\(outcome.rawValue)' is not final") }
        try pool.write { db in
            try db.execute(sql: """
                UPDATE actions SET outcome = ?, exit_code = ?, stdout = ?, stderr = ?, duration_ms = ?, reason = ?, ended_at = ?
                WHERE id = ?
                """, arguments: [outcome.rawValue, exitCode, stdout, stderr, duration?.milliseconds, reason,
                                 ISOTime.format(endedAt), id])
            if db.changesCount == 0 { throw StoreError("action \(id): not found") }
        }
    }

    /// Actions left `planned` or `started` (a killed clean): the state of that map is unknown
    /// until it is scanned again. `node: nil` means every node. Oldest first.
    public func unfinishedActions(node: String?) throws -> [ActionRecord] {
        try pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT * FROM actions WHERE outcome IN ('planned', 'started') AND (?1 IS NULL OR node = ?1)
                ORDER BY planned_at, id
                """, arguments: [node]).map(ActionRecord.init(row:))
        }
    }
}

/// An exclusive `flock(2)` on a folder for as long as a history is being opened and migrated.
/// Blocking: the holder is another fleet opening the same folder's history, which takes
/// milliseconds (its waits on SQLite are bounded by the busy timeout).
final class FolderLock {
    private var fd: Int32

    init(_ folder: String) {
        fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            while flock(fd, LOCK_EX) != 0, errno == EINTR {}
        }
    }

    /// Closing the descriptor releases the lock.
    func release() {
        if fd >= 0 { close(fd) }
        fd = -1
    }

    deinit { release() }
}
