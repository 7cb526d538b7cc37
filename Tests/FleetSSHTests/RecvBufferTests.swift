import CLibSSH2
import Glibc
import Testing

/// libssh2's recv callback (shim.h `fleet_recv_cb`) on a real socket pair: what libssh2
/// reads must be exactly the bytes sent, in order, whatever the read sizes; EAGAIN is
/// remembered until the loop re-arms it; EOF and errors pass through as libssh2 expects.
@Suite struct RecvBufferTests {
    final class Pair {
        var fds: [Int32] = [-1, -1]
        let state = UnsafeMutablePointer<fleet_recv_state>.allocate(capacity: 1)
        init() throws {
            #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
            _ = fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK)
            state.initialize(to: fleet_recv_state())
        }
        deinit { close(fds[0]); close(fds[1]); state.deallocate() }
        func send(_ s: String) { let b = Array(s.utf8); #expect(write(fds[1], b, b.count) == b.count) }
        /// One libssh2-style read of at most `n` bytes: the bytes, or the negative return code.
        enum Read: Equatable { case success([UInt8]), failure(Int) }
        func read(_ n: Int) -> Read {
            var buf = [UInt8](repeating: 0, count: n)
            var abstract: UnsafeMutableRawPointer? = UnsafeMutableRawPointer(state)
            let r = buf.withUnsafeMutableBytes { fleet_recv_cb(fds[0], $0.baseAddress, n, 0, &abstract) }
            return r < 0 ? .failure(r) : .success(Array(buf.prefix(r)))
        }
    }

    @Test func bannerByteByByteThenPacketsGetEveryByteInOrder() throws {
        let p = try Pair()
        let banner = "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"
        let packet = String(repeating: "k", count: 3000)
        p.send(banner + packet)
        var got: [UInt8] = []
        // libssh2 1.10 reads the banner one byte at a time, up to the newline.
        while got.last != UInt8(ascii: "\n") {
            guard case .success(let b) = p.read(1), b.count == 1 else { Issue.record("banner read failed"); return }
            got += b
        }
        #expect(String(decoding: got, as: UTF8.self) == banner)
        // Then big reads: first what the 1 KiB buffer kept, then straight from the socket.
        var rest: [UInt8] = []
        while rest.count < packet.utf8.count, case .success(let b) = p.read(35_000), !b.isEmpty { rest += b }
        #expect(String(decoding: rest, as: UTF8.self) == packet)
    }

    @Test func eagainIsRememberedUntilRearmed() throws {
        let p = try Pair()
        #expect(p.read(100) == .failure(-Int(EAGAIN)))
        p.send("late")
        // Still "empty" for libssh2 until the loop has seen the socket readable again.
        #expect(p.read(100) == .failure(-Int(EAGAIN)))
        fleet_recv_rearm(p.state)
        #expect(p.read(100) == .success(Array("late".utf8)))
    }

    @Test func endOfStreamAndErrorsPassThrough() throws {
        let p = try Pair()
        p.send("ab")
        close(p.fds[1]); p.fds[1] = -1
        #expect(p.read(1) == .success(Array("a".utf8)))
        #expect(p.read(1) == .success(Array("b".utf8)))
        #expect(p.read(1) == .success([]))  // EOF: 0, as recv(2)
        let bad = try Pair()
        close(bad.fds[0]); bad.fds[0] = -1
        #expect(bad.read(10) == .failure(-Int(EBADF)))
    }
}
