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
        Recorded(forks: forks.value, connectTimeout: connectTimeout.value.text, commandTimeout: commandTimeout.value.text,
                 probeTimeout: probeTimeout.value.text, hostKeyPolicy: hostKeyPolicy.value.rawValue)
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
        Recorded(confirmAfter: confirmAfter.value.text, batch: batch.value.description, maxInFlight: maxInFlight.value,
                 rate: rate?.value.description, pause: pause.value.text, maxFailures: maxFailures?.value.description)
    }
}
