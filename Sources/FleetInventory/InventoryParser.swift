import FleetModel
import Foundation
import Yams

func readText(_ path: String) throws -> String {
    try String(contentsOfFile: path, encoding: .utf8)
}

struct InventoryParser {
    var text: String
    var file: String
    func parse() throws(InventoryError) -> Inventory { fatalError("TODO") }
}

struct NodeSelector {
    var limit: String?
    func select(from inventory: Inventory) throws(InventoryError) -> [InventoryNode] { fatalError("TODO") }
}
