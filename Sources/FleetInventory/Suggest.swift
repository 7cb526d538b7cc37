import FleetModel
import Foundation
import Yams

enum Suggest {
    /// The known word closest to `word` by edit distance, when it is close enough to be a typo.
    static func closest(_ word: String, among known: [String]) -> String? {
        let w = Array(word.lowercased())
        var best: (String, Int)?
        for k in known {
            let d = distance(w, Array(k.lowercased()))
            if d <= max(2, k.count / 3), best == nil || d < best!.1 { best = (k, d) }
        }
        return best?.0
    }

    static func distance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var prev = Array(0...b.count)
        for i in 1...a.count {
            var cur = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            prev = cur
        }
        return prev[b.count]
    }
}
