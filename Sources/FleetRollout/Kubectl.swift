import Foundation
import FleetModel

/// Where fleet asks Kubernetes: the operator's own `kubectl`, so every way the operator
/// authenticates (kubeconfig files, `KUBECONFIG` lists, contexts, exec credential plugins,
/// in-cluster service accounts) works as it does for them. Read-only: `config view` and
/// `get … -o json`, nothing else.
public struct KubernetesSettings: Sendable, Hashable {
    /// `kubectl` to run (a path, or a name looked up in PATH).
    public var kubectl: String
    public var kubeconfig: String?
    public var context: String?
    /// kubectl's `--request-timeout` for each API request.
    public var requestTimeout: Duration
    /// The inventory label that names a node's Kubernetes Node (when it differs).
    public var nodeLabel: String
    public var rules: [WWIDRule]

    public init(kubectl: String = "kubectl", kubeconfig: String? = nil, context: String? = nil,
                requestTimeout: Duration = .seconds(30), nodeLabel: String = "k8s-node",
                rules: [WWIDRule] = WWIDRule.builtIn) {
        self.kubectl = kubectl; self.kubeconfig = kubeconfig; self.context = context
        self.requestTimeout = requestTimeout; self.nodeLabel = nodeLabel; self.rules = rules
    }

    /// The resources fleet reads (contrib/fleet-kubernetes-rbac.yaml grants exactly these).
    public static let resources = "volumeattachments.storage.k8s.io,csidrivers.storage.k8s.io,persistentvolumes,nodes"
}

/// Why the Kubernetes witness is missing. `fleet clean` acts on nothing then.
public struct KubernetesUnavailable: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable, Codable {
        case kubectlMissing = "kubectl-missing"
        case unreachable
        case unauthorized
        case forbidden
        case credential
        case timeout
        case failed
        case badOutput = "bad-output"
    }
    public var kind: Kind
    public var message: String
    public var description: String { "Kubernetes witness unavailable (\(kind.rawValue)): \(message)" }
}

/// The answer of one `kubectl get`.
public struct KubernetesAnswer: Sendable, Hashable {
    /// `context <name>, cluster <name>, server <url>` (what answered).
    public var context: String?
    public var cluster: String?
    public var server: String?
    public var objects: Kube.Objects
    public var source: String {
        "context \(context ?? "-") cluster \(cluster ?? "-") server \(server ?? "-")"
    }
}

public enum Kubectl {
    /// Reads VolumeAttachments, CSIDrivers, PVs and Nodes through kubectl.
    public static func fetch(_ s: KubernetesSettings) -> Result<KubernetesAnswer, KubernetesUnavailable> {
        guard let exe = resolve(s.kubectl) else {
            return .failure(KubernetesUnavailable(kind: .kubectlMissing, message: "\(s.kubectl) not found in PATH (install kubectl, or pass --no-kubernetes)"))
        }
        var common: [String] = []
        if let k = s.kubeconfig { common += ["--kubeconfig", k] }
        if let c = s.context { common += ["--context", c] }
        let seconds = max(1, Int(s.requestTimeout.components.seconds))
        // Which context/cluster answers: local only, no API call. In-cluster (no kubeconfig) fails: fine.
        var answer = KubernetesAnswer(objects: Kube.Objects())
        if let cfg = try? run(exe, ["config", "view", "--minify", "-o", "json"] + common, limit: seconds + 30),
           cfg.status == 0, let j = try? JSONSerialization.jsonObject(with: cfg.stdout) as? [String: Any] {
            answer.context = j["current-context"] as? String
            if let c = (j["clusters"] as? [[String: Any]])?.first {
                answer.cluster = c["name"] as? String
                answer.server = (c["cluster"] as? [String: Any])?["server"] as? String
            }
        }
        let r: ProcessResult
        do {
            r = try run(exe, ["get", KubernetesSettings.resources, "-o", "json", "--request-timeout=\(seconds)s"] + common,
                        limit: seconds * 4 + 30)
        } catch {
            return .failure(KubernetesUnavailable(kind: .failed, message: "cannot run \(exe): \(error)"))
        }
        if r.timedOut {
            return .failure(KubernetesUnavailable(kind: .timeout, message: "kubectl did not finish within \(seconds * 4 + 30)s (killed)"))
        }
        let err = String(decoding: r.stderr, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard r.status == 0 else {
            return .failure(KubernetesUnavailable(kind: classify(err), message: "kubectl get exited \(r.status): \(err.prefix(500))"))
        }
        do {
            answer.objects = try Kube.decode(r.stdout)
        } catch {
            return .failure(KubernetesUnavailable(kind: .badOutput, message: "kubectl get -o json: \(error)"))
        }
        return .success(answer)
    }

    /// What kubectl's error text says went wrong.
    static func classify(_ err: String) -> KubernetesUnavailable.Kind {
        let e = err.lowercased()
        if e.contains("getting credentials") || e.contains("exec plugin") || e.contains("executable") && e.contains("failed") {
            return .credential
        }
        if e.contains("forbidden") { return .forbidden }
        if e.contains("unauthorized") || e.contains("must be logged in") || e.contains("provide credentials") { return .unauthorized }
        // Before the timeout words: every request URL carries `?timeout=32s`.
        if e.contains("connection refused") || e.contains("no such host") || e.contains("no route to host")
            || e.contains("certificate") { return .unreachable }
        if e.contains("i/o timeout") || e.contains("deadline exceeded") || e.contains("timed out")
            || e.contains("client.timeout") { return .timeout }
        if e.contains("unable to connect") || e.contains("dial tcp") { return .unreachable }
        return .failed
    }

    static func resolve(_ name: String) -> String? {
        if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let p = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    struct ProcessResult { var status: Int32; var stdout: Data; var stderr: Data; var timedOut: Bool }

    /// Runs a program with stdin from /dev/null, both pipes read to EOF concurrently, killed
    /// after `limit` seconds (an exec credential plugin that hangs must not hold the run).
    static func run(_ exe: String, _ args: [String], limit: Int) throws -> ProcessResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        p.standardInput = FileHandle.nullDevice
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let group = DispatchGroup()
        let box = DataBox()
        for (i, pipe) in [out, err].enumerated() {
            group.enter()
            DispatchQueue.global().async {
                box.set(i, pipe.fileHandleForReading.readDataToEndOfFile())
                group.leave()
            }
        }
        let killed = OnceFlag()
        let timer = DispatchWorkItem { if p.isRunning, killed.claim() { kill(p.processIdentifier, SIGKILL) } }
        DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(limit), execute: timer)
        group.wait()
        p.waitUntilExit()
        timer.cancel()
        let timedOut = !killed.claim()
        return ProcessResult(status: p.terminationStatus, stdout: box.get(0), stderr: box.get(1), timedOut: timedOut)
    }
}

/// The two pipes' contents, written from two reader threads.
private final class DataBox: @unchecked Sendable {
    // @unchecked: `data` is only touched under `lock`.
    private let lock = NSLock()
    private var data: [Int: Data] = [:]
    func set(_ i: Int, _ d: Data) { lock.withLock { data[i] = d } }
    func get(_ i: Int) -> Data { lock.withLock { data[i] ?? Data() } }
}
