import FleetModel
import Foundation
import Yams

enum Names {
    static func isNodeName(_ s: String) -> Bool {
        !s.isEmpty && s.count <= 253 && s.first != "-" && s.unicodeScalars.allSatisfy {
            (("a"..."z").contains($0) || ("A"..."Z").contains($0)
             || ("0"..."9").contains($0) || $0 == "-" || $0 == "_" || $0 == "." || $0 == ":")
        }
    }

    static func isLabelKey(_ s: String) -> Bool {
        !s.isEmpty && s.count <= 253 && s.unicodeScalars.allSatisfy {
            (("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0)
             || $0 == "-" || $0 == "_" || $0 == "." || $0 == "/")
        }
    }
}
