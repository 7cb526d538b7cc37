/// A run's options as the history stores them (`runs.options`): the command's own options
/// and those of each option group it uses, merged into one flat JSON object. Each group
/// says once what it records (``NodeAccessOptions/recorded``, ``RolloutPacingOptions/recorded``),
/// so scan, clean and sweep record a shared option under the same key and text.
struct RecordedOptions: Encodable, Sendable {
    var parts: [any Encodable & Sendable]

    init(_ parts: (any Encodable & Sendable)...) { self.parts = parts }

    func encode(to encoder: any Encoder) throws {
        // Every part encodes into the same keyed container: one object, not nested ones.
        for part in parts { try part.encode(to: encoder) }
    }
}

extension NodeAccessOptions {
    struct Recorded: Encodable, Sendable {
        var forks: Int
        var connectTimeout: String
        var commandTimeout: String
        var probeTimeout: String
        var hostKeyPolicy: String
    }

    var recorded: Recorded {
        Recorded(forks: forks, connectTimeout: connectTimeout.text, commandTimeout: commandTimeout.text,
                 probeTimeout: probeTimeout.text, hostKeyPolicy: hostKeyPolicy.rawValue)
    }
}

extension RolloutPacingOptions {
    struct Recorded: Encodable, Sendable {
        var confirmAfter: String
        var batch: String
        var maxInFlight: Int
        var rate: String?
        var pause: String
        var maxFailures: String?
    }

    var recorded: Recorded {
        Recorded(confirmAfter: confirmAfter.text, batch: batch.description, maxInFlight: maxInFlight,
                 rate: rate?.description, pause: pause.text, maxFailures: maxFailures?.description)
    }
}
