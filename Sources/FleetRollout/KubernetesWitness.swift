import Foundation
import FleetInventory
import FleetModel
import FleetStore

/// One run's question to Kubernetes and what came of it: the per-node views for the scan,
/// the gate for the planner, and the row for the history.
public struct KubernetesWitness: Sendable {
    /// nil: not asked (`--no-kubernetes`).
    public var answer: Result<KubernetesAnswer, KubernetesUnavailable>?
    public var askedAt: Date
    public var witnesses: RunWitnesses

    public var gate: CleanPlanner.KubernetesGate {
        switch answer {
        case nil: .notAsked
        case .success?: .required
        case .failure(let e)?: .unavailable(e.description)
        }
    }

    public var source: String? { if case .success(let a)? = answer { a.source } else { nil } }
    public var failure: KubernetesUnavailable? { if case .failure(let e)? = answer { e } else { nil } }

    /// Asks once (when `settings` is set) and maps every inventory node to its Kubernetes Node.
    /// When the API cannot be asked, the scan still runs with node-local witnesses only.
    public static func ask(
        _ settings: KubernetesSettings?, nodes: [InventoryNode],
        fetch: (KubernetesSettings) -> Result<KubernetesAnswer, KubernetesUnavailable> = Kubectl.fetch,
        now: Date = Date()
    ) -> KubernetesWitness {
        guard let settings else {
            return KubernetesWitness(answer: nil, askedAt: now, witnesses: RunWitnesses())
        }
        let answer = fetch(settings)
        var w = RunWitnesses(rules: settings.rules)
        if case .success(let a) = answer {
            let cluster = KubeCluster(source: a.source, objects: a.objects, rules: settings.rules)
            var views: [String: KubeNodeView] = [:]
            for n in nodes {
                views[n.name] = cluster.view(inventoryName: n.name, host: n.target.host, labels: n.labels, nodeLabel: settings.nodeLabel)
            }
            w.kubernetes = views
        }
        return KubernetesWitness(answer: answer, askedAt: now, witnesses: w)
    }

    /// Writes the run's `kubernetes_witness` row (nothing when not asked).
    public static func record(_ k: KubernetesWitness, run: Int64, in db: FleetDatabase) throws {
        switch k.answer {
        case nil: return
        case .success(let a):
            try db.recordKubernetesWitness(run: run, KubernetesWitnessRecord(
                askedAt: k.askedAt, context: a.context, cluster: a.cluster, server: a.server,
                volumeAttachments: a.objects.volumeAttachments.count, persistentVolumes: a.objects.persistentVolumes.count,
                nodes: a.objects.nodes.count))
        case .failure(let e):
            try db.recordKubernetesWitness(run: run, KubernetesWitnessRecord(askedAt: k.askedAt, failure: e.kind.rawValue, message: e.message))
        }
    }
}
