import Foundation

/// `tools/kube-apiserver/kube-test-apiserver` on a loopback address, with a CA, a server
/// certificate and a client certificate made for this test by the openssl CLI, and a
/// kubeconfig whose contexts reach it as different users:
///
/// - `token`: bearer token of `fleet-reader` (allowed);
/// - `cert`: client certificate CN=fleet-reader (allowed);
/// - `forbidden`: bearer token of `intruder` (authenticated, 403 on every list);
/// - `badtoken`: a token the server does not know (401);
/// - `execfail`: an exec credential plugin that fails (kubectl never reaches the server);
/// - `exec`: an exec credential plugin that prints `fleet-reader`'s token (allowed);
/// - `down`: a server address where nothing listens.
///
/// The cluster's objects are `state` (rewrite with ``setObjects(_:)``; the server re-reads
/// the file on every request). Stopped by pid on ``stop()`` / deinit.
public final class TestKubeAPIServer: @unchecked Sendable {
    // @unchecked: mutable state is only touched by the owning test, on one task.
    public let dir: String
    public let address: String
    public private(set) var port: Int = 0
    public var kubeconfig: String { dir + "/kubeconfig" }
    public var requestLog: String { dir + "/requests.log" }
    private var process: Process?

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        init(_ d: String) { description = d }
    }

    public static var serverScript: String {
        Fixtures.repoRoot.appendingPathComponent("tools/kube-apiserver/kube-test-apiserver").path
    }

    /// Objects as the API returns them in lists, keyed by resource (`volumeattachments`, …).
    public init(address: String, objects: [String: [[String: Any]]] = [:]) throws {
        self.address = address
        dir = NSTemporaryDirectory() + "fleet-kube-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try makeCertificates()
        try setObjects(objects)
        try start()
        try writeKubeconfig()
    }

    deinit { stop() }

    public func stop() {
        if let p = process, p.isRunning {
            // SIGKILL: the test process's children may inherit a blocked SIGTERM.
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
        }
        process = nil
        try? FileManager.default.removeItem(atPath: dir)
    }

    public func setObjects(_ objects: [String: [[String: Any]]]) throws {
        let state: [String: Any] = [
            "users": ["token:reader-token": "fleet-reader", "cert:fleet-reader": "fleet-reader", "token:intruder-token": "intruder"],
            "allowed": ["fleet-reader"],
            "resourceVersion": String(Int.random(in: 1000...999_999)),
            "objects": objects,
        ]
        let data = try JSONSerialization.data(withJSONObject: state, options: [.sortedKeys])
        let tmp = dir + "/state.json.tmp"
        try data.write(to: URL(fileURLWithPath: tmp))
        guard rename(tmp, dir + "/state.json") == 0 else { throw Failure("rename state.json: errno \(errno)") }
    }

    /// The requests the server has answered, in order (path, query, user).
    public func requests() -> [[String: Any]] {
        guard let text = try? String(contentsOfFile: requestLog, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    private func openssl(_ args: [String]) throws {
        let r = try ChildProcess.run("/usr/bin/openssl", args, cwd: dir)
        guard r.status == 0 else { throw Failure("openssl \(args.joined(separator: " ")): \(r.output)") }
    }

    private func makeCertificates() throws {
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try openssl(["req", "-x509"] + ec + ["-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=fleet-test-ca"])
        try "subjectAltName=IP:\(address)\nextendedKeyUsage=serverAuth\n".write(toFile: dir + "/server.ext", atomically: true, encoding: .utf8)
        try "extendedKeyUsage=clientAuth\n".write(toFile: dir + "/client.ext", atomically: true, encoding: .utf8)
        for (name, cn) in [("server", "kube-apiserver"), ("client", "fleet-reader")] {
            try openssl(["req"] + ec + ["-keyout", "\(name).key", "-out", "\(name).csr", "-subj", "/CN=\(cn)"])
            try openssl(["x509", "-req", "-in", "\(name).csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                         "-out", "\(name).crt", "-days", "2", "-extfile", "\(name).ext"])
        }
    }

    private func start() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        p.arguments = [Self.serverScript, "--address", address, "--port", "0", "--cert", dir + "/server.crt",
                       "--key", dir + "/server.key", "--client-ca", dir + "/ca.crt", "--state", dir + "/state.json",
                       "--log", requestLog, "--port-file", dir + "/port"]
        p.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        FileManager.default.createFile(atPath: dir + "/server.err", contents: nil)
        p.standardError = FileHandle(forWritingAtPath: dir + "/server.err")
        try p.run()
        process = p
        // The server writes its port once bound (generous limit: a loaded CI machine).
        for _ in 0..<1200 {
            if let t = try? String(contentsOfFile: dir + "/port", encoding: .utf8),
               let port = Int(t.trimmingCharacters(in: .whitespacesAndNewlines)) {
                self.port = port
                return
            }
            if !p.isRunning { break }
            usleep(50_000)
        }
        let err = (try? String(contentsOfFile: dir + "/server.err", encoding: .utf8)) ?? ""
        throw Failure("kube-test-apiserver did not start listening: \(err)")
    }

    private func writeKubeconfig() throws {
        let server = "https://\(address):\(port)"
        // A closed port on the same address: nothing listens there.
        let downServer = "https://\(address):1"
        let execOK = dir + "/exec-ok"
        try """
            #!/bin/sh
            printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"reader-token"}}\\n'
            """.write(toFile: execOK, atomically: true, encoding: .utf8)
        chmod(execOK, 0o755)
        let execFail = dir + "/exec-fail"
        try "#!/bin/sh\necho 'credential helper: token expired, run login' >&2\nexit 1\n".write(toFile: execFail, atomically: true, encoding: .utf8)
        chmod(execFail, 0o755)
        let text = """
            apiVersion: v1
            kind: Config
            clusters:
            - name: test
              cluster: {server: "\(server)", certificate-authority: "\(dir)/ca.crt"}
            - name: down
              cluster: {server: "\(downServer)", certificate-authority: "\(dir)/ca.crt"}
            users:
            - name: token
              user: {token: reader-token}
            - name: cert
              user: {client-certificate: "\(dir)/client.crt", client-key: "\(dir)/client.key"}
            - name: forbidden
              user: {token: intruder-token}
            - name: badtoken
              user: {token: no-such-token}
            - name: execfail
              user:
                exec: {apiVersion: client.authentication.k8s.io/v1, command: "\(execFail)", interactiveMode: Never}
            - name: exec
              user:
                exec: {apiVersion: client.authentication.k8s.io/v1, command: "\(execOK)", interactiveMode: Never}
            contexts:
            - {name: token, context: {cluster: test, user: token}}
            - {name: cert, context: {cluster: test, user: cert}}
            - {name: forbidden, context: {cluster: test, user: forbidden}}
            - {name: badtoken, context: {cluster: test, user: badtoken}}
            - {name: execfail, context: {cluster: test, user: execfail}}
            - {name: exec, context: {cluster: test, user: exec}}
            - {name: down, context: {cluster: down, user: token}}
            current-context: token

            """
        try text.write(toFile: kubeconfig, atomically: true, encoding: .utf8)
    }
}
