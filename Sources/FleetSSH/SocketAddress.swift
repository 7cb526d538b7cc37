import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// A resolved address, stored as raw sockaddr bytes so it can cross threads.
struct SocketAddress: Sendable {
    var family: Int32
    var storage: [UInt8]

    /// Numeric IPv4/IPv6 (`[…]` allowed) without a resolver round trip; nil for names.
    static func numeric(_ host: String, port: Int) -> SocketAddress? {
        let h = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        var v4 = sockaddr_in()
        if inet_pton(AF_INET, h, &v4.sin_addr) == 1 {
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = in_port_t(UInt16(port).bigEndian)
            return SocketAddress(family: AF_INET, storage: withUnsafeBytes(of: &v4) { Array($0) })
        }
        var v6 = sockaddr_in6()
        if inet_pton(AF_INET6, h, &v6.sin6_addr) == 1 {
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = in_port_t(UInt16(port).bigEndian)
            return SocketAddress(family: AF_INET6, storage: withUnsafeBytes(of: &v6) { Array($0) })
        }
        return nil
    }

    /// getaddrinfo on a Dispatch worker, never on Swift's cooperative pool (it can block for seconds).
    static func resolve(_ host: String, port: Int) async -> Result<[SocketAddress], Reason> {
        if let a = numeric(host, port: port) { return .success([a]) }
        return await withCheckedContinuation { cont in
            DispatchQueue.global().async {
                var hints = addrinfo()
                hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
                hints.ai_family = AF_UNSPEC
                var res: UnsafeMutablePointer<addrinfo>?
                let rc = getaddrinfo(host, String(port), &hints, &res)
                guard rc == 0 else {
                    cont.resume(returning: .failure(Reason(String(cString: gai_strerror(rc)))))
                    return
                }
                defer { freeaddrinfo(res) }
                var out: [SocketAddress] = []
                var p = res
                while let ai = p {
                    if let sa = ai.pointee.ai_addr {
                        out.append(SocketAddress(family: ai.pointee.ai_family,
                                                 storage: Array(UnsafeRawBufferPointer(start: sa, count: Int(ai.pointee.ai_addrlen)))))
                    }
                    p = ai.pointee.ai_next
                }
                cont.resume(returning: out.isEmpty ? .failure(Reason("no addresses")) : .success(out))
            }
        }
    }
}
