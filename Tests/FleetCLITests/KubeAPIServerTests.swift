import Foundation
import FleetModel
import FleetRollout
import FleetTestSupport
import Testing

/// The test API server (tools/kube-apiserver) checked with the real kubectl, then fleet's
/// own kubectl runner against it: every way of asking that must answer, and every way that
/// must fail, with its kind. Address 127.0.103.1 (this suite's range: 127.0.103.x).
@Suite(.serialized) struct KubeAPIServerTests {
    static let address = "127.0.103.1"

    static func objects(vas: Int = 3) -> [String: [[String: Any]]] {
        [
            "volumeattachments": (0..<vas).map { i in
                ["metadata": ["name": "csi-va-\(i)"],
                 "spec": ["attacher": "csi.hpe.com", "nodeName": "node-000\(i + 1)", "source": ["persistentVolumeName": "pvc-\(i)"]],
                 "status": ["attached": true, "attachmentMetadata": ["serialNumber": "6001405aaaaaaaaaaaaaaaaaaaaaaaa\(i)"]]]
            },
            "csidrivers": [["metadata": ["name": "csi.hpe.com"], "spec": ["attachRequired": true]]],
            "persistentvolumes": [["metadata": ["name": "pvc-0"], "spec": ["csi": ["driver": "csi.hpe.com", "volumeHandle": "h0"]]]],
            "nodes": [["metadata": ["name": "node-0001"], "status": ["addresses": [["type": "InternalIP", "address": "127.0.103.10"]]]]],
        ]
    }

    struct Ran { var status: Int32; var out: String; var err: String }

    static func kubectl(_ server: TestKubeAPIServer, _ args: [String]) throws -> Ran {
        let r = try CleanFarmTests.run("/usr/bin/env", ["kubectl", "--kubeconfig", server.kubeconfig,
                                                        "--cache-dir", server.dir + "/cache"] + args)
        return Ran(status: r.status, out: r.out, err: r.err)
    }

    @Test func realKubectlReadsTheServer() throws {
        let server = try TestKubeAPIServer(address: Self.address, objects: Self.objects())
        defer { server.stop() }
        // --chunk-size=1: three VolumeAttachments take three pages (limit/continue).
        let r = try Self.kubectl(server, ["get", KubernetesSettings.resources, "-o", "json", "--chunk-size=1"])
        #expect(r.status == 0, "\(r.err)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        let items = json["items"] as? [[String: Any]] ?? []
        #expect(json["kind"] as? String == "List")
        #expect(items.compactMap { $0["kind"] as? String } == ["VolumeAttachment", "VolumeAttachment", "VolumeAttachment",
                                                              "CSIDriver", "PersistentVolume", "Node"])
        let reqs = server.requests()
        let paths = reqs.compactMap { $0["path"] as? String }
        // kubectl's discovery went through the server's discovery endpoints.
        #expect(paths.contains("/api") && paths.contains("/apis") && paths.contains("/apis/storage.k8s.io/v1"))
        let vaPages = reqs.filter { $0["path"] as? String == "/apis/storage.k8s.io/v1/volumeattachments" }
        #expect(vaPages.count == 3)
        #expect(vaPages.filter { ($0["query"] as? [String: String])?["continue"] != nil }.count == 2)
        #expect(reqs.allSatisfy { $0["user"] as? String == "fleet-reader" })
        // `kubectl version` reads /version.
        let v = try Self.kubectl(server, ["version", "-o", "json"])
        #expect(v.out.contains("\"gitVersion\": \"v1.32.0\""), "\(v.out) \(v.err)")
        // The same through the client certificate and through an exec credential plugin.
        for ctx in ["cert", "exec"] {
            let c = try Self.kubectl(server, ["--context", ctx, "get", "nodes", "-o", "json"])
            #expect(c.status == 0 && c.out.contains("node-0001"), "\(ctx): \(c.err)")
        }
    }

    @Test func realKubectlSeesDenials() throws {
        let server = try TestKubeAPIServer(address: Self.address, objects: Self.objects())
        defer { server.stop() }
        let forbidden = try Self.kubectl(server, ["--context", "forbidden", "get", "volumeattachments", "-o", "json"])
        #expect(forbidden.status != 0)
        #expect(forbidden.err.contains(#"volumeattachments.storage.k8s.io is forbidden: User "intruder" cannot list resource "volumeattachments""#), "\(forbidden.err)")
        let unknown = try Self.kubectl(server, ["--context", "badtoken", "get", "nodes", "-o", "json"])
        #expect(unknown.status != 0)
        #expect(unknown.err.contains("provide credentials") || unknown.err.contains("Unauthorized"), "\(unknown.err)")
        let exec = try Self.kubectl(server, ["--context", "execfail", "get", "nodes", "-o", "json"])
        #expect(exec.status != 0 && exec.err.contains("getting credentials"), "\(exec.err)")
    }

    @Test func fleetsKubectlRunnerAnswersAndFailsByKind() throws {
        let server = try TestKubeAPIServer(address: Self.address, objects: Self.objects())
        defer { server.stop() }
        setenv("KUBECACHEDIR", server.dir + "/cache", 1)
        func fetch(_ ctx: String) -> Result<KubernetesAnswer, KubernetesUnavailable> {
            Kubectl.fetch(KubernetesSettings(kubeconfig: server.kubeconfig, context: ctx, requestTimeout: .seconds(20)))
        }
        for ctx in ["token", "cert", "exec"] {
            let a = try fetch(ctx).get()
            #expect(a.objects.volumeAttachments.count == 3 && a.objects.nodes.count == 1, "\(ctx)")
            #expect(a.context == ctx && a.cluster == "test" && a.server == "https://\(Self.address):\(server.port)")
        }
        let expected: [(String, KubernetesUnavailable.Kind)] = [
            ("forbidden", .forbidden), ("badtoken", .unauthorized), ("execfail", .credential), ("down", .unreachable),
        ]
        for (ctx, kind) in expected {
            guard case .failure(let e) = fetch(ctx) else { Issue.record("\(ctx) answered"); continue }
            #expect(e.kind == kind, "\(ctx): \(e)")
        }
        let missing = Kubectl.fetch(KubernetesSettings(kubectl: "/nonexistent/kubectl"))
        guard case .failure(let m) = missing else { Issue.record("missing kubectl answered"); return }
        #expect(m.kind == .kubectlMissing)
    }
}
