import Foundation
import GRDB

/// What one run's Kubernetes witness said (table `kubernetes_witness`, migration v0002).
public struct KubernetesWitnessRecord: Sendable, Hashable {
    public var askedAt: Date
    /// nil: answered; otherwise why not (`unreachable`, `forbidden`, …).
    public var failure: String?
    public var message: String?
    public var context: String?
    public var cluster: String?
    public var server: String?
    public var volumeAttachments: Int?
    public var persistentVolumes: Int?
    public var nodes: Int?

    public init(askedAt: Date, failure: String? = nil, message: String? = nil, context: String? = nil, cluster: String? = nil,
                server: String? = nil, volumeAttachments: Int? = nil, persistentVolumes: Int? = nil, nodes: Int? = nil) {
        self.askedAt = askedAt; self.failure = failure; self.message = message; self.context = context
        self.cluster = cluster; self.server = server; self.volumeAttachments = volumeAttachments
        self.persistentVolumes = persistentVolumes; self.nodes = nodes
    }
}

extension FleetDatabase {
    public func recordKubernetesWitness(run: Int64, _ r: KubernetesWitnessRecord) throws {
        try pool.write { db in
            try db.execute(sql: """
                INSERT INTO kubernetes_witness (run_id, asked_at, status, failure, message, context, cluster, server,
                                                volume_attachments, persistent_volumes, nodes)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (run_id) DO UPDATE SET asked_at = excluded.asked_at, status = excluded.status,
                    failure = excluded.failure, message = excluded.message, context = excluded.context,
                    cluster = excluded.cluster, server = excluded.server,
                    volume_attachments = excluded.volume_attachments,
                    persistent_volumes = excluded.persistent_volumes, nodes = excluded.nodes
                """, arguments: [run, ISOTime.format(r.askedAt), r.failure == nil ? "answered" : "unavailable", r.failure,
                                 r.message, r.context, r.cluster, r.server, r.volumeAttachments, r.persistentVolumes, r.nodes])
        }
    }

    public func kubernetesWitness(run: Int64) throws -> KubernetesWitnessRecord? {
        try pool.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM kubernetes_witness WHERE run_id = ?", arguments: [run]) else {
                return nil
            }
            let asked: String = row["asked_at"]
            return KubernetesWitnessRecord(
                askedAt: ISOTime.parse(asked) ?? Date(timeIntervalSince1970: 0), failure: row["failure"], message: row["message"],
                context: row["context"], cluster: row["cluster"], server: row["server"],
                volumeAttachments: row["volume_attachments"], persistentVolumes: row["persistent_volumes"], nodes: row["nodes"])
        }
    }
}
