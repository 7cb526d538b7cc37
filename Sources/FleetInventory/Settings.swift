import FleetModel
import Foundation

/// Connection settings as written at one level (defaults, a group, a node); `nil` means
/// "not set here", so the next level down decides.
struct Settings: Hashable {
    var address: String?
    var port: Int?
    var user: String?
    var identityFiles: [String]?
    var knownHosts: [String]?
    var sudo: Bool?
    /// ProxyJump spec (`[user@]host[:port],…`).
    var jump: String?
    /// Set by the inventory's own `address`/`ansible_host` (not Ansible's default name).
    var addressGiven = false
    var labels: [String: String] = [:]
    var protect: [ProtectRule] = []

    /// `self` over `base`: scalars from the most specific level that sets them, labels
    /// merged key by key, protect rules concatenated (most specific first).
    func over(_ base: Settings) -> Settings {
        Settings(address: address ?? base.address, port: port ?? base.port, user: user ?? base.user,
                 identityFiles: identityFiles ?? base.identityFiles, knownHosts: knownHosts ?? base.knownHosts,
                 sudo: sudo ?? base.sudo, jump: jump ?? base.jump, addressGiven: addressGiven || base.addressGiven, labels: base.labels.merging(labels) { _, mine in mine },
                 protect: protect + base.protect.filter { !protect.contains($0) })
    }

    /// The first setting both levels give with different values (`user`, `label rack`, …).
    func conflict(with other: Settings) -> String? {
        func differ<T: Equatable>(_ a: T?, _ b: T?) -> Bool { a != nil && b != nil && a != b }
        if differ(address, other.address) { return "address" }
        if differ(port, other.port) { return "port" }
        if differ(user, other.user) { return "user" }
        if differ(identityFiles, other.identityFiles) { return "identity_file" }
        if differ(knownHosts, other.knownHosts) { return "known_hosts" }
        if differ(sudo, other.sudo) { return "sudo" }
        if differ(jump, other.jump) { return "jump" }
        for (k, v) in other.labels where labels[k] != nil && labels[k] != v { return "label '\(k)'" }
        return nil
    }
}
