import CLibSSH2
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Something an ``EventLoop`` polls: one socket, what to wait for on it, and a deadline.
protocol LoopClient: AnyObject {
    var pollFD: Int32 { get }
    /// POLLIN/POLLOUT wanted now; 0 while the client waits for nothing on its socket.
    var pollEvents: Int16 { get }
    var deadline: ContinuousClock.Instant? { get }
    func ready()
    func deadlinePassed()
    /// About once a second (keepalives).
    func tick()
}

/// One thread multiplexing many non-blocking libssh2 sessions with poll(2).
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

    private func run() {
        var fds: [pollfd] = []
        var order: [any LoopClient] = []
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
            fds.removeAll(keepingCapacity: true)
            order.removeAll(keepingCapacity: true)
            fds.append(pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0))
            var nearest: ContinuousClock.Instant? = nil
            for c in clients.values {
                if c.pollEvents != 0 && c.pollFD >= 0 {
                    fds.append(pollfd(fd: c.pollFD, events: c.pollEvents, revents: 0))
                    order.append(c)
                }
                if let d = c.deadline, nearest.map({ d < $0 }) ?? true { nearest = d }
            }
            var waitMS: Int32 = 1000
            if let n = nearest {
                let left = ContinuousClock.now.duration(to: n)
                let ms = left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1
                waitMS = Int32(max(0, min(1000, ms)))
            }
            let rc = poll(&fds, nfds_t(fds.count), waitMS)
            if rc > 0 {
                if fds[0].revents != 0 {
                    var v: UInt64 = 0
                    _ = read(wakeFD, &v, 8)
                }
                for i in 1..<fds.count where fds[i].revents != 0 {
                    order[i - 1].ready()
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
