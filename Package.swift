// swift-tools-version:6.1
import PackageDescription

// Dependencies point downward only:
//   fleet -> FleetCLI -> FleetRollout -> {FleetStore -> FleetMigrations, FleetInventory, FleetModel}
//   FleetCLI -> FleetReport -> {FleetStore, FleetModel, Mustache}: the HTML report
//   FleetSSH -> {CLibSSH2, FleetModel} sits to the side; only FleetCLI links it, so the
//   model, store and rollout tests never link libssh2.
let package = Package(
    name: "fleet",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "fleet", targets: ["fleet"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
    ],
    targets: [
        .systemLibrary(
            name: "CLibSSH2",
            pkgConfig: "libssh2",
            providers: [.apt(["libssh2-1-dev"])]
        ),
        // OpenSSL's SHA-256 for the history's content digests (FleetStore).
        .systemLibrary(
            name: "CCrypto",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        // Pure: models, parsers, classifier, typed remote commands. No I/O, no C libraries.
        .target(name: "FleetModel"),
        .target(
            name: "FleetInventory",
            dependencies: ["FleetModel", .product(name: "Yams", package: "Yams")]
        ),
        .target(name: "FleetSSH", dependencies: ["CLibSSH2", "FleetModel"]),
        .target(
            name: "FleetMigrations",
            path: "migrations",
            exclude: ["README.md"],
            resources: [
                .embedInCode("v0001_initial.sql"),
                .embedInCode("v0002_store_what_changed.sql"),
                .embedInCode("v0003_node_status_no_exit_keepalive.sql"),
                .embedInCode("v0004_kubernetes_witness.sql"),
                .embedInCode("v0005_discovery_phase.sql"),
                .embedInCode("v0006_residual_maps_index.sql"),
                .embedInCode("v0007_state_last_seen.sql"),
                .embedInCode("v0008_device_reads_inline.sql"),
            ]
        ),
        .target(
            name: "FleetStore",
            dependencies: ["FleetModel", "FleetMigrations", "CCrypto", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        // `fleet report` / `sweep --report`: the history as one self-contained HTML page.
        .target(
            name: "FleetReport",
            dependencies: ["FleetModel", "FleetStore", .product(name: "Mustache", package: "swift-mustache")],
            resources: [.embedInCode("report.mustache")]
        ),
        .target(name: "FleetRollout", dependencies: ["FleetModel", "FleetStore", "FleetInventory",
                                              .product(name: "Logging", package: "swift-log")]),
        .target(
            name: "FleetCLI",
            dependencies: [
                "FleetModel", "FleetInventory", "FleetStore", "FleetRollout", "FleetSSH", "FleetReport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // glibc's mallopt for the fleet executable (docs/perf.md: malloc arenas).
        .systemLibrary(name: "CMalloc"),
        .executableTarget(name: "fleet", dependencies: ["FleetCLI", "CMalloc"]),
        .target(name: "FleetTestSupport", dependencies: ["FleetModel", .product(name: "GRDB", package: "GRDB.swift")]),
        // bench/ssh.sh: N sessions + one command each, in-process (no CLI, no store).
        .executableTarget(name: "fleet-ssh-bench", dependencies: ["FleetSSH", "FleetModel"], path: "bench/ssh-bench"),
        // bench/cpu.sh: `fleet scan` in process with recorded node replies (client CPU per node).
        .executableTarget(name: "fleet-cpu-bench", dependencies: ["FleetCLI", "FleetSSH", "FleetModel",
                                                                .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "bench/cpu-bench"),

        .testTarget(name: "FleetModelTests", dependencies: ["FleetModel", "FleetTestSupport"]),
        .testTarget(name: "FleetInventoryTests", dependencies: ["FleetInventory", "FleetTestSupport"]),
        .testTarget(name: "FleetSSHTests", dependencies: ["FleetSSH", "CLibSSH2", "FleetTestSupport"]),
        .testTarget(name: "FleetStoreTests", dependencies: ["FleetStore", "FleetTestSupport", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "FleetRolloutTests", dependencies: ["FleetRollout", "FleetTestSupport"]),
        .testTarget(name: "FleetCLITests", dependencies: ["FleetCLI", "FleetTestSupport", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "FleetReportTests", dependencies: ["FleetReport", "FleetTestSupport",
                                                           .product(name: "Mustache", package: "swift-mustache")]),
    ]
)
