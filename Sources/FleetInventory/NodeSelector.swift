import FleetModel

/// `--limit` evaluation; see ``Inventory/select(_:)``.
struct NodeSelector {
    var limit: String?

    func select(from inv: Inventory) throws(InventoryError) -> [InventoryNode] {
        guard let limit, !limit.trimmingCharacters(in: .whitespaces).isEmpty else { return inv.nodes }
        var include: Set<String>?
        var exclude = Set<String>()
        for raw in limit.split(separator: ",", omittingEmptySubsequences: false) {
            var term = raw.trimmingCharacters(in: .whitespaces)
            guard !term.isEmpty else { throw failure(limit, "empty term (two commas, or a comma at an end)") }
            let negative = term.hasPrefix("!")
            if negative { term = String(term.dropFirst()).trimmingCharacters(in: .whitespaces) }
            guard !term.isEmpty else { throw failure(limit, "'!' must be followed by a node, group or label=value") }
            let hits = matching(term, inv)
            guard !hits.isEmpty else {
                throw failure(limit, "'\(term)' matches no node name, group or label=value in the inventory")
            }
            if negative {
                exclude.formUnion(hits)
            } else {
                include = (include ?? []).union(hits)
            }
        }
        let chosen = inv.nodes.filter { (include?.contains($0.name) ?? true) && !exclude.contains($0.name) }
        guard !chosen.isEmpty else { throw failure(limit, "selects no node") }
        return chosen
    }

    func matching(_ term: String, _ inv: Inventory) -> Set<String> {
        if term == "all" { return Set(inv.nodes.map(\.name)) }
        if let eq = term.firstIndex(of: "=") {
            let key = String(term[..<eq]).trimmingCharacters(in: .whitespaces)
            let value = String(term[term.index(after: eq)...]).trimmingCharacters(in: .whitespaces)
            return Set(inv.nodes.filter { n in n.labels[key].map { Glob.matches(value, $0) } ?? false }.map(\.name))
        }
        return Set(inv.nodes.filter { $0.groups.contains(term) || Glob.matches(term, $0.name) }.map(\.name))
    }

    func failure(_ limit: String, _ message: String) -> InventoryError {
        InventoryError(file: "--limit '\(limit)'", line: nil, column: nil, message: message)
    }
}
