import CLibSSH2
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Something an ``EventLoop`` polls: one socket, what to wait for on it, and a deadline.
protocol LoopClient: AnyObject {
    var pollFD: Int32 { get }
    /// Unique per socket the client ever opened (``nextSocketToken()``), so the loop can
    /// tell a new socket that reuses a closed one's fd number from the old one.
    var pollToken: UInt64 { get }
    /// POLLIN/POLLOUT wanted now; 0 while the client waits for nothing on its socket.
    var pollEvents: Int16 { get }
    var deadline: ContinuousClock.Instant? { get }
    func ready()
    func deadlinePassed()
    /// About once a second (keepalives).
    func tick()
}

private let socketTokens = Atomic<UInt64>(0)

/// A token for a newly opened socket (see ``LoopClient/pollToken``).
func nextSocketToken() -> UInt64 { socketTokens.add(1, ordering: .relaxed).newValue }

/// One thread multiplexing many non-blocking libssh2 sessions with epoll(7).
///
/// libssh2 allows one session on one thread at a time, so every session belongs to exactly
/// one loop and is touched only from it; callers hand work over with ``submit(_:)``.
final class EventLoop: @unchecked Sendable {
    // @unchecked: `jobs` is a Mutex and `wakeFD`/`stopping` are set once or atomic; `clients`
    // and `scratch` are touched only on the loop's own thread (jobs run there).
    private let jobs = Mutex<[@Sendable () -> Void]>([])
    private let wakeFD: Int32
    private let stopping = Atomic<Bool>(false)
    private var clients: [ObjectIdentifier: any LoopClient] = [:]
    /// Read buffer shared by the loop's sessions (one read at a time on this thread).
    let scratch: UnsafeMutableRawBufferPointer
    private var thread: pthread_t?

    init(name: String) {
        wakeFD = fleet_eventfd()
        scratch = .allocate(byteCount: 64 << 10, alignment: 16)
        let box = Unmanaged.passRetained(self)
        var t = pthread_t()
        let rc = pthread_create(&t, nil, { arg in
            let loop = Unmanaged<EventLoop>.fromOpaque(arg!).takeRetainedValue()
            loop.run()
            return nil
        }, box.toOpaque())
        precondition(rc == 0, "cannot start SSH event loop thread: \(rc)")
        thread = t
        pthread_detach(t)
    }

    deinit {
        close(wakeFD)
        scratch.deallocate()
    }

    func submit(_ job: @escaping @Sendable () -> Void) {
        jobs.withLock { $0.append(job) }
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
    }

    /// Lets the thread end after failing what is still registered.
    func stop() {
        stopping.store(true, ordering: .releasing)
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
    }

    func register(_ c: any LoopClient) { clients[ObjectIdentifier(c)] = c }
    func unregister(_ c: any LoopClient) { clients[ObjectIdentifier(c)] = nil }

    /// What epoll has for one fd: the socket (token) and client it was registered for.
    private struct Registration {
        var token: UInt64
        var events: UInt32
        var client: any LoopClient
    }

    /// Level-triggered epoll (perf: poll(2) scanned every session's socket on every wake-up,
    /// ~3% of a 200-session scan's CPU). Each turn, the wanted fd/events of every client are
    /// compared with what is registered and only the differences go to epoll_ctl; a
    /// registration is keyed by the socket's token, so a closed socket whose fd number was
    /// reused (by any client) is registered again, never mistaken for the old one.
    private func run() {
        let ep = fleet_epoll_create()
        precondition(ep >= 0, "cannot create the SSH event loop's epoll: \(errno)")
        defer { close(ep) }
        _ = fleet_epoll_set(ep, 0, wakeFD, 1, 0)
        var registered: [Int32: Registration] = [:]
        var wanted: [Int32: Registration] = [:]
        var ready = [Int32](repeating: -1, count: 256)
        var lastTick = ContinuousClock.now
        while true {
            let batch = jobs.withLock { j -> [@Sendable () -> Void] in let b = j; j.removeAll(); return b }
            for job in batch { job() }
            if stopping.load(ordering: .acquiring) && batch.isEmpty {
                for c in Array(clients.values) { c.deadlinePassed() }
                clients.removeAll()
                if jobs.withLock({ $0.isEmpty }) { return }
                continue
            }
            wanted.removeAll(keepingCapacity: true)
            var nearest: ContinuousClock.Instant? = nil
            for c in clients.values {
                let fd = c.pollFD, ev = c.pollEvents
                if ev != 0 && fd >= 0 {
                    var e: UInt32 = 0
                    if ev & Int16(POLLIN) != 0 { e |= 1 }
                    if ev & Int16(POLLOUT) != 0 { e |= 2 }
                    wanted[fd] = Registration(token: c.pollToken, events: e, client: c)
                }
                if let d = c.deadline, nearest.map({ d < $0 }) ?? true { nearest = d }
            }
            for (fd, old) in registered where wanted[fd] == nil || wanted[fd]!.token != old.token {
                // Gone, or another socket now: drop it (a closed fd is already out of epoll).
                _ = fleet_epoll_set(ep, 2, fd, 0, 0)
                registered[fd] = nil
            }
            for (fd, w) in wanted {
                if let old = registered[fd], old.events == w.events {
                    registered[fd] = w  // same socket, same events: keep the newest client reference
                    continue
                }
                let inb = Int32(w.events & 1), outb = Int32(w.events >> 1 & 1)
                if registered[fd] != nil {
                    if fleet_epoll_set(ep, 1, fd, inb, outb) != 0 { _ = fleet_epoll_set(ep, 0, fd, inb, outb) }
                } else if fleet_epoll_set(ep, 0, fd, inb, outb) != 0 {
                    _ = fleet_epoll_set(ep, 1, fd, inb, outb)
                }
                registered[fd] = w
            }
            var waitMS: Int32 = 1000
            if let n = nearest {
                let left = ContinuousClock.now.duration(to: n)
                let ms = left.milliseconds + 1
                waitMS = Int32(max(0, min(1000, ms)))
            }
            let rc = fleet_epoll_wait(ep, &ready, Int32(ready.count), waitMS)
            if rc > 0 {
                for i in 0..<Int(rc) {
                    let fd = ready[i]
                    if fd == wakeFD {
                        var v: UInt64 = 0
                        _ = read(wakeFD, &v, 8)
                    } else if let r = registered[fd] {
                        r.client.ready()
                    }
                }
            }
            let now = ContinuousClock.now
            if nearest.map({ $0 <= now }) ?? false {
                for c in Array(clients.values) {
                    if let d = c.deadline, d <= now { c.deadlinePassed() }
                }
            }
            if lastTick.duration(to: now) >= .seconds(1) {
                lastTick = now
                for c in Array(clients.values) { c.tick() }
            }
        }
    }
}
