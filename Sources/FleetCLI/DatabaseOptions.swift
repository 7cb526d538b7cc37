import ArgumentParser
import Foundation
import FleetModel
import FleetStore

/// `--db PATH`, shared by scan, clean, sweep and history (`@OptionGroup var database: DatabaseOptions`).
struct DatabaseOptions: ParsableArguments {
    @Option(name: .customLong("db"), help: ArgumentHelp(
        "History database (SQLite).",
        discussion: "Default: $FLEET_DB, else $XDG_STATE_HOME/fleet/history.sqlite, else ~/.local/state/fleet/history.sqlite.",
        valueName: "path"))
    var path: Sourced<String>?

    /// The path that will be used, after $FLEET_DB and XDG defaults.
    var resolvedPath: String { path?.value ?? FleetDatabase.defaultPath() }

    /// Opens (creating and migrating when needed) the database.
    func open() throws -> FleetDatabase {
        try FleetDatabase(path: resolvedPath)
    }

    /// Opens the database, refusing to create one: a mistyped --db must not answer
    /// "(none)" (or an empty report) from a new empty file.
    func openExisting() throws -> FleetDatabase {
        let path = resolvedPath
        guard FileManager.default.fileExists(atPath: path) else {
            throw StoreError("no history database at \(path) (fleet scan, clean and sweep create it; --db or FLEET_DB selects another)")
        }
        return try open()
    }

    /// The history of one scan, clean or sweep: the database opened (created and migrated
    /// when needed; a dead writer's runs marked interrupted) and this run's row begun. The
    /// caller turns a failure into exit 74 through its error printer.
    func beginRun(_ kind: RunKind, inventory: String?, options: some Encodable & Sendable,
                  _ ctx: FleetContext) throws -> (db: FleetDatabase, run: Int64) {
        try FleetDatabase.beginRun(path: resolvedPath(ctx), kind: kind, inventory: inventory, options: options,
                                   version: FleetVersion.current, startedAt: ctx.now())
    }

    /// The path in `ctx`'s environment ($FLEET_DB, XDG defaults) unless --db gives one.
    func resolvedPath(_ ctx: FleetContext) -> String {
        path?.value ?? FleetDatabase.defaultPath(environment: ctx.environment)
    }
}

extension DatabaseOptions {
    /// `db:` of a config file.
    static var configBindings: [ConfigBinding<Self>] { [.option("db", \.path)] }
}
