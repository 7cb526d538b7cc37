import ArgumentParser
import FleetModel

struct Explain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Analyse captured node outputs offline (no SSH)."
    )
    @Argument(help: "A file of `multipath -ll` output, or a folder of captures named after the commands.")
    var paths: [String]

    func run() async throws {
        throw ValidationError("not implemented yet")
    }
}
