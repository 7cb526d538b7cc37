import Foundation
import FleetModel

/// Remembers `NodeCommand.display` texts (bounded: commands name per-node devices, but a
/// fleet's nodes share most of them).
final class DisplayCache: @unchecked Sendable {
    // @unchecked: `texts` is only touched under `lock`.
    private let lock = NSLock()
    private var texts: [NodeCommand: String] = [:]

    func display(_ c: NodeCommand) -> String {
        if let t = lock.withLock({ texts[c] }) { return t }
        let t = c.display
        lock.withLock { if texts.count < 4096 { texts[c] = t } }
        return t
    }
}
