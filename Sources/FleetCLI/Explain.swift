import ArgumentParser
import Foundation
import FleetModel
import FleetRollout

struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Analyse captured node outputs offline (no SSH).",
        discussion: """
        Each PATH is either a file holding `multipath -ll` output (pasted from a customer, say;
        `-` reads it from stdin),
        or a folder of captures named after the commands, as fleet's scans and the lab captures
        store them: multipath-ll.txt, multipathd-show-maps-json.txt, dmsetup-info-c.txt,
        dmsetup-status.txt, proc-mounts.txt, proc-self-mountinfo.txt, sys-block-sdX-device-state.txt,
        sys-block-dm-N-slaves-holders.txt, dd-dm-N.txt (+ dd-dm-N.stderr.txt), ps-dd-wchan.txt …
        `<name>.stderr.txt` is that command's stderr; `meta.tsv` (name, exit code, …) gives exit
        codes where present.

        A lone `multipath -ll` file cannot prove a map residual (no probe, no sysfs state, no
        holders): its all-failed maps come out `needs-review` with the missing facts listed.

          $ fleet explain customer-multipath-ll.txt
          $ xclip -o | fleet explain -
          $ fleet explain --format json fixtures/real/residual
          $ kubectl get volumeattachments,pv,csidrivers,nodes -o json > cluster.json
          $ fleet explain --kubernetes cluster.json --node worker-7 capture-folder/

        With --kubernetes (saved `kubectl get … -o json` output) and --node (the Kubernetes Node
        the captures come from), each map also gets what Kubernetes said: a map with every path
        failed whose WWID is attached to that node is `attached-but-dead` (docs/kubernetes.md).

        Exit status: 0 nothing residual, 1 residual maps found, 64 usage error.
        With several PATHs, `--format json` prints one JSON object per PATH, one per line.
        """
    )


    @Option(help: "Output format: table or json.")
    var format: OutputFormat = .table

    @Option(help: ArgumentHelp("Saved `kubectl get volumeattachments,pv,csidrivers,nodes -o json` output.", valueName: "file"))
    var kubernetes: String?

    @Option(help: ArgumentHelp("The Kubernetes Node the captures come from (with --kubernetes).", valueName: "name"))
    var node: String?

    @Argument(help: "A file of `multipath -ll` output, or a folder of captures named after the commands.")
    var paths: [String]

    func validate() throws {
        if paths.isEmpty { throw ValidationError("give at least one PATH (a multipath -ll file or a capture folder)") }
        if (kubernetes == nil) != (node == nil) { throw ValidationError("--kubernetes and --node go together") }
    }

    /// The saved cluster's view of `node`, or nil without --kubernetes.
    func kubeView() throws -> KubeNodeView? {
        guard let kubernetes, let node else { return nil }
        guard let data = FileManager.default.contents(atPath: kubernetes) else {
            throw ExplainInputError(message: "\(kubernetes): cannot read")
        }
        let objects: Kube.Objects
        do { objects = try Kube.decode(data) } catch {
            throw ExplainInputError(message: "\(kubernetes): \(error)")
        }
        return KubeCluster(source: "file \(kubernetes)", objects: objects)
            .view(inventoryName: node, host: "", labels: [:], nodeLabel: "k8s-node")
    }

    func run() throws {
        let code = execute(out: { StandardStream.out($0) },
                           err: { StandardStream.err($0) })
        if code != .ok { throw ExitCode(code) }
    }

    /// Does the work and returns the exit status: 0 nothing residual, 1 residual found,
    /// 64 unreadable input. Output goes through `out`/`err` so tests can capture it.
    func execute(out: (String) -> Void, err: (String) -> Void) -> ExitStatus {
        var reports: [(String, ExplainReport)] = []
        let view: KubeNodeView?
        do { view = try kubeView() } catch let e as ExplainInputError {
            err(ErrorPrinter.line(.explain, e.message))
            return .usage
        } catch {
            err(ErrorPrinter.line(.explain, error))
            return .usage
        }
        for p in paths {
            do {
                reports.append((p, try Self.report(for: p, kubernetes: view)))
            } catch let e as ExplainInputError {
                err(ErrorPrinter.line(.explain, e.message))
                return .usage
            } catch {
                err(ErrorPrinter.line(.explain, "\(p): \(error)"))
                return .usage
            }
        }
        for (i, (p, r)) in reports.enumerated() {
            switch format {
            case .json:
                out(r.json(pretty: reports.count == 1) + "\n")
            case .table:
                if reports.count > 1 { out("\(i == 0 ? "" : "\n")== \(p) ==\n") }
                out(r.table())
            }
        }
        return reports.contains(where: { $0.1.hasResidual }) ? .residual : .ok
    }

    struct ExplainInputError: Error { var message: String }

    /// Builds the report for one PATH: a file is `multipath -ll` output, a folder a capture set.
    static func report(for path: String, kubernetes view: KubeNodeView? = nil) throws -> ExplainReport {
        if path == "-" {  // pasted output on stdin
            let data = FileHandle.standardInput.readDataToEndOfFile()
            let out = CommandOutput(command: .multipathList, stdout: String(decoding: data, as: UTF8.self))
            return ExplainReport(snapshot: NodeSnapshot(outputs: [out]))
        }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw ExplainInputError(message: "\(path): no such file or directory")
        }
        if !isDir.boolValue {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ExplainInputError(message: "\(path): cannot read")
            }
            let out = CommandOutput(command: .multipathList, stdout: String(decoding: data, as: UTF8.self))
            return ExplainReport(snapshot: NodeSnapshot(outputs: [out]))
        }
        let outputs = try captureOutputs(folder: path)
        guard outputs.contains(where: { $0.command == .multipathList }) else {
            throw ExplainInputError(message: "\(path): no multipath-ll.txt in this folder")
        }
        let snapshot = NodeSnapshot(outputs: outputs)
        var findings = Classifier.classify(snapshot)
        Witnesses.apply(&findings, snapshot: snapshot, kubernetes: view, rules: WWIDRule.builtIn)
        return ExplainReport(findings: findings, warnings: snapshot.warnings)
    }

    /// Reads `<name>.txt` (+ `<name>.stderr.txt`, exit code from `meta.tsv`) for every name
    /// that maps to a read-only `NodeCommand`; other files are ignored.
    static func captureOutputs(folder: String) throws -> [CommandOutput] {
        let url = URL(fileURLWithPath: folder)
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: folder) } catch {
            throw ExplainInputError(message: "\(folder): cannot list: \(error.localizedDescription)")
        }
        var files: [String: String] = [:]
        for n in names where n.hasSuffix(".txt") || n == "meta.tsv" {
            if let d = FileManager.default.contents(atPath: url.appendingPathComponent(n).path) {
                files[n] = String(decoding: d, as: UTF8.self)
            }
        }
        let outs = NodeSnapshot.outputs(fromCaptureFiles: files)
        return outs
    }
}
