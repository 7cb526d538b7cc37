/// The ordered list of SQL migrations, compiled into the binary (`embedInCode`).
/// Append only: a released migration never changes.
public enum FleetMigrations {
    public static let all: [(id: String, sql: String)] = [
        ("v0001_initial", String(decoding: PackageResources.v0001_initial_sql, as: UTF8.self)),
        ("v0002_store_what_changed", String(decoding: PackageResources.v0002_store_what_changed_sql, as: UTF8.self)),
        ("v0003_node_status_no_exit_keepalive",
         String(decoding: PackageResources.v0003_node_status_no_exit_keepalive_sql, as: UTF8.self)),
        ("v0004_kubernetes_witness", String(decoding: PackageResources.v0004_kubernetes_witness_sql, as: UTF8.self)),
        ("v0005_discovery_phase", String(decoding: PackageResources.v0005_discovery_phase_sql, as: UTF8.self)),
        ("v0006_residual_maps_index", String(decoding: PackageResources.v0006_residual_maps_index_sql, as: UTF8.self)),
        ("v0007_state_last_seen", String(decoding: PackageResources.v0007_state_last_seen_sql, as: UTF8.self)),
        ("v0008_device_reads_inline", String(decoding: PackageResources.v0008_device_reads_inline_sql, as: UTF8.self)),
    ]
}
