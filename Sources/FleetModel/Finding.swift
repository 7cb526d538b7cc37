import struct Foundation.Date

/// What the O_DIRECT readability probe (`timeout -s KILL T dd if=/dev/dm-N … iflag=direct`) showed.
public enum ProbeOutcome: String, Sendable, Codable, CaseIterable {
    case readOK = "read-ok"
    /// `Input/output error`, 0 bytes copied: the vendor procedure's residual case.
    case ioError = "io-error"
    /// Killed at the time limit (exit 137): a queueing map.
    case hung
    /// Anything else (the procedure says: contact support).
    case otherError = "other-error"
    case notRun = "not-run"
}

public struct ProbeResult: Sendable, Hashable, Codable {
    public var outcome: ProbeOutcome
    /// dd's stderr or a short explanation.
    public var detail: String?
    /// PID of a dd still stuck on this device after the probe (procedure step 1.3).
    public var stuckPID: Int32?
    /// After `kill -9`, was the dd still there (D state cannot be killed)?
    public var stuckAfterKill: Bool?

    public init(outcome: ProbeOutcome, detail: String? = nil, stuckPID: Int32? = nil, stuckAfterKill: Bool? = nil) {
        self.outcome = outcome; self.detail = detail; self.stuckPID = stuckPID; self.stuckAfterKill = stuckAfterKill
    }
}

/// Everything besides `multipath -ll` that the classifier looked at for one map.
public struct MapEvidence: Sendable, Hashable, Codable {
    /// `multipathd show maps json` "queueing": `off`, `12 chk`, `39 sec`, `on`, …
    public var queueing: String?
    /// `dmsetup info -c` Open column.
    public var openCount: Int?
    /// /sys/block/dm-N/holders entries.
    public var holders: [String]
    /// /sys/block/dm-N/slaves entries.
    public var slaves: [String]
    /// Mount points of the map or its partitions (from /proc/mounts, bind mounts included).
    public var mountpoints: [String]
    /// /sys/block/sdX/device/state per path disk.
    public var sysfsStates: [String: DeviceState]
    public var probe: ProbeResult?
    /// The processes holding the map or its path disks open, each with only its fds on them
    /// (nil when /proc was not read), and the rule's word on each.
    public var openers: [MapOpener]?
    /// What the Kubernetes API said about this WWID on this node (nil: not asked).
    public var kubernetes: KubeMapWitness?

    public init(queueing: String? = nil, openCount: Int? = nil, holders: [String] = [], slaves: [String] = [],
                mountpoints: [String] = [], sysfsStates: [String: DeviceState] = [:], probe: ProbeResult? = nil,
                openers: [MapOpener]? = nil) {
        self.queueing = queueing; self.openCount = openCount; self.holders = holders; self.slaves = slaves
        self.mountpoints = mountpoints; self.sysfsStates = sysfsStates; self.probe = probe; self.openers = openers
    }

    /// The pids the rule called stuck readers: the ones a cleanup may end.
    public var stuckReaderPIDs: [Int32] { (openers ?? []).filter { $0.role == .stuckReader }.map(\.opener.pid) }
}

/// One opener of a map with its role, as stored with a finding.
public struct MapOpener: Sendable, Hashable, Codable {
    public enum Role: String, Sendable, Hashable, Codable, CaseIterable {
        case stuckReader = "stuck-reader", pathChecker = "path-checker", user, unknown
    }
    public var opener: Opener
    public var role: Role
    /// Why it is a user or unknown; nil for stuck readers and path checkers.
    public var note: String?

    public init(opener: Opener, role: Role, note: String? = nil) { self.opener = opener; self.role = role; self.note = note }

    public init(_ opener: Opener, _ r: OpenerRole) {
        switch r {
        case .stuckReader: self.init(opener: opener, role: .stuckReader)
        case .pathChecker: self.init(opener: opener, role: .pathChecker)
        case .user(let why): self.init(opener: opener, role: .user, note: why)
        case .unknown(let why): self.init(opener: opener, role: .unknown, note: why)
        }
    }

    /// `pid 5733 dd (D, submit_bio_wait) fd 0 read-only on dm-0: dd if=/dev/dm-0 …`
    public var summary: String {
        let fds = opener.fds.map { "fd \($0.fd) \($0.access?.rawValue ?? "mode unknown") on \($0.device)" }.joined(separator: ", ")
        return "\(opener.label) \(fds)" + (opener.commandLine.map { $0.isEmpty ? "" : ": \($0)" } ?? "")
    }
}

/// The classifier's result for one map: verdict, human reasons, and the evidence behind them.
public struct MapFinding: Sendable, Hashable {
    public var map: MultipathMap
    public var verdict: Verdict
    /// Short sentences, most important first, e.g. "all 2 paths failed faulty",
    /// "probe: Input/output error".
    public var reasons: [String]
    public var evidence: MapEvidence

    public init(map: MultipathMap, verdict: Verdict, reasons: [String], evidence: MapEvidence = MapEvidence()) {
        self.map = map; self.verdict = verdict; self.reasons = reasons; self.evidence = evidence
    }
}

/// One node's result in one scan: transport status plus, when it answered, the findings
/// and the raw outputs they came from.
public struct NodeScan: Sendable, Hashable {
    public var node: String
    public var address: String
    public var status: NodeStatus
    /// Set when status != ok, or for a node-level problem (e.g. multipath-tools missing).
    public var error: String?
    public var startedAt: Date
    public var duration: Duration
    public var outputs: [CommandOutput]
    public var findings: [MapFinding]
    public var warnings: [ParseWarning]
    /// Which discovery the node got; `phaseNote` says why it got the full one when phase 1
    /// was possible or tried (nil: forced or nothing to say).
    public var phase: DiscoveryPhase = .full
    public var phaseNote: String?
    /// A phase-1-only node: the history rows its carried maps and outputs are (recorded
    /// again by reference, not rewritten).
    public var carried: CarriedRows?

    public init(node: String, address: String, status: NodeStatus, error: String? = nil, startedAt: Date,
                duration: Duration, outputs: [CommandOutput] = [], findings: [MapFinding] = [], warnings: [ParseWarning] = []) {
        self.node = node; self.address = address; self.status = status; self.error = error
        self.startedAt = startedAt; self.duration = duration; self.outputs = outputs
        self.findings = findings; self.warnings = warnings
    }
}

/// The history rows (`node_states`, `output_sets`) a phase-1-only node run points at.
public struct CarriedRows: Sendable, Hashable {
    public var stateID: Int64?
    public var outputSetID: Int64?
    public init(stateID: Int64?, outputSetID: Int64?) { self.stateID = stateID; self.outputSetID = outputSetID }
}
