import Foundation

/// The discovery's `kubelet-csi-vol-data` capture: for each of kubelet's CSI records a line
/// `== <path>` and then the file (`vol_data.json`, one JSON object, kubelet's
/// `saveVolumeData`: `specVolID`, `volumeHandle`, `driverName`, `nodeName`, …).
public enum KubeletVolumeParser {
    private struct VolData: Decodable {
        var specVolID: String?
        var volumeHandle: String?
        var driverName: String?
    }

    public static func parse(_ text: String) -> (value: [KubeletVolume], warnings: [ParseWarning]) {
        var out: [KubeletVolume] = []
        var warnings: [ParseWarning] = []
        var path: String?
        var pathLine = 0
        var body = ""
        func flush() {
            guard let p = path else { return }
            let trimmed = body.trimmingCharacters(in: .whitespacesAndNewlines)
            if let d = try? JSONDecoder().decode(VolData.self, from: Data(trimmed.utf8)) {
                out.append(KubeletVolume(path: p, specVolID: d.specVolID, volumeHandle: d.volumeHandle, driverName: d.driverName))
            } else {
                // Unreadable record: still a record kubelet keeps; it names nothing fleet can tie.
                warnings.append(ParseWarning(line: pathLine, text: "\(p): not a vol_data.json object"))
                out.append(KubeletVolume(path: p, specVolID: nil, volumeHandle: nil, driverName: nil))
            }
            path = nil; body = ""
        }
        for l in TextLines.split(text) {
            if l.text.hasPrefix("== ") {
                flush()
                path = String(l.text.dropFirst(3)); pathLine = l.number
            } else if path != nil {
                body += l.text + "\n"
            } else if !l.text.trimmingCharacters(in: .whitespaces).isEmpty {
                warnings.append(ParseWarning(line: l.number, text: "text before any record: \(l.text.prefix(80))"))
            }
        }
        flush()
        return (out, warnings)
    }
}
