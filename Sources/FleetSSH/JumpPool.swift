import FleetModel
import Synchronization

/// Authenticated jump host (bastion) connections shared by the nodes behind them.
///
/// Each connection is one sshd process (one core) on the jump host, so many nodes' channels
/// share a few connections: a new one is opened only when every open one carries
/// `channelsPerConnection` channels, and only one at a time per jump host (sshd's
/// `MaxStartups` limits unauthenticated connections). A jump host that cannot be reached or
/// refuses fleet fails every node behind it with that one cause, without N more attempts.
final class JumpPool: Sendable {
    /// A hop chain, outermost first; the last one is the jump host itself.
    typealias Key = [NodeTarget]

    /// A node's open was on a connection that stopped taking channels: try another.
    static let retryMarker = "\u{1}retry on another jump host connection"

    private struct Conn {
        let conn: SSHConnection
        var load: Int
        var draining = false
    }

    private struct Entry {
        var conns: [Conn] = []
        var opening = false
        /// The first connection could not be made: every node behind it fails with this.
        var failure: NodeFailure?
        /// Opening one more failed while others work: stay with the ones there are.
        var noMore = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex<[Key: Entry]>([:])
    let channelsPerConnection: Int

    init(channelsPerConnection: Int) { self.channelsPerConnection = max(1, channelsPerConnection) }

    /// What a jump host connection tells the pool, on its loop thread.
    final class Handle: Sendable {
        let pool: JumpPool
        let key: Key
        let id: ObjectIdentifier
        init(pool: JumpPool, key: Key, id: ObjectIdentifier) { self.pool = pool; self.key = key; self.id = id }
        /// One channel (or a channel that was never opened) is gone.
        func release() { pool.update(key, id) { $0.load -= 1 } }
        /// Takes no new channels.
        func drain() { pool.update(key, id) { $0.draining = true } }
        /// The connection failed: forget it (nodes that come later open a new one).
        func lost() { pool.remove(key, id) }
    }

    private enum Step { case use(SSHConnection), fail(NodeFailure), wait, open }

    /// A jump host connection for `key` with room for one more channel, counted as taken.
    func acquire(_ key: Key, connect: (Key) async throws(NodeFailure) -> SSHConnection) async throws(NodeFailure) -> SSHConnection {
        while true {
            let step = state.withLock { all -> Step in
                var e = all[key] ?? Entry()
                defer { all[key] = e }
                if let f = e.failure { return .fail(f) }
                let live = e.conns.indices.filter { !e.conns[$0].draining }
                if let i = live.min(by: { e.conns[$0].load < e.conns[$1].load }),
                   e.conns[i].load < channelsPerConnection || e.noMore || e.opening {
                    if e.conns[i].load < channelsPerConnection || e.noMore {
                        e.conns[i].load += 1
                        return .use(e.conns[i].conn)
                    }
                }
                if e.opening { return .wait }
                e.opening = true
                return .open
            }
            switch step {
            case .use(let c): return c
            case .fail(let f): throw f
            case .wait:
                await withCheckedContinuation { (cont: CheckedContinuation<Void, Never>) in
                    let now = state.withLock { all -> Bool in
                        guard all[key]?.opening == true else { return true }
                        all[key]!.waiters.append(cont)
                        return false
                    }
                    if now { cont.resume() }
                }
            case .open:
                let result: Result<SSHConnection, NodeFailure>
                do throws(NodeFailure) { result = .success(try await connect(key)) } catch { result = .failure(error) }
                let waiters = state.withLock { all -> [CheckedContinuation<Void, Never>] in
                    var e = all[key] ?? Entry()
                    e.opening = false
                    switch result {
                    case .success(let c): e.conns.append(Conn(conn: c, load: 1))
                    case .failure(let f):
                        if e.conns.contains(where: { !$0.draining }) { e.noMore = true } else { e.failure = f }
                    }
                    let w = e.waiters
                    e.waiters = []
                    all[key] = e
                    return w
                }
                for w in waiters { w.resume() }
                switch result {
                case .success(let c): return c
                case .failure(let f):
                    if state.withLock({ $0[key]?.failure == nil }) { continue }  // others still work
                    throw f
                }
            }
        }
    }

    /// A connection the pool just opened for `key`, to be given to the connection itself.
    func handle(_ key: Key, _ conn: SSHConnection) -> Handle { Handle(pool: self, key: key, id: ObjectIdentifier(conn)) }

    private func update(_ key: Key, _ id: ObjectIdentifier, _ f: (inout Conn) -> Void) {
        state.withLock { all in
            guard let i = all[key]?.conns.firstIndex(where: { ObjectIdentifier($0.conn) == id }) else { return }
            f(&all[key]!.conns[i])
        }
    }

    private func remove(_ key: Key, _ id: ObjectIdentifier) {
        state.withLock { all in all[key]?.conns.removeAll { ObjectIdentifier($0.conn) == id } }
    }
}
