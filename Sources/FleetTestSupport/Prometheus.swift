import Foundation

/// Parses a metrics file with the reference parser (`prometheus_client`, Debian package
/// python3-prometheus-client, installed by `make deps`) and returns
/// "name{k=v,...} value" lines, sorted, plus each family's type and help.
public func prometheusParse(_ path: String) throws -> (samples: [String: Double], types: [String: String], helps: [String: String]) {
    let script = """
    import json, sys
    from prometheus_client.parser import text_string_to_metric_families
    out = {"samples": {}, "types": {}, "helps": {}}
    for fam in text_string_to_metric_families(open(sys.argv[1]).read()):
        out["types"][fam.name] = fam.type
        out["helps"][fam.name] = fam.documentation
        for s in fam.samples:
            labels = ",".join("%s=%s" % kv for kv in sorted(s.labels.items()))
            out["samples"]["%s{%s}" % (s.name, labels)] = s.value
    print(json.dumps(out))
    """
    // The parser may live in the system python (Debian package) or the one on PATH (pip).
    var lastError = ""
    for python in ["/usr/bin/python3", "python3"] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [python, "-c", script, path]
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { lastError = String(decoding: errData, as: UTF8.self); continue }
        let obj = try JSONSerialization.jsonObject(with: data) as! [String: [String: Any]]
        return (obj["samples"]!.mapValues { ($0 as! NSNumber).doubleValue },
                obj["types"] as! [String: String], obj["helps"] as! [String: String])
    }
    throw PrometheusParseFailure(message: "prometheus_client could not parse \(path) (or is missing: apt-get install python3-prometheus-client): \(lastError)")
}

public struct PrometheusParseFailure: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
