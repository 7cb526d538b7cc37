import Foundation
import Testing
@testable import FleetRollout

/// withDeadline (ScanRun's per-node hard deadline) must not keep anything of a node once the
/// node is done: a run's deadline is minutes long, and whatever a finished node's deadline
/// holds until then is held for every node of the run.
@Suite struct ScanRunDeadlineTests {
    final class Token: Sendable {}

    /// Polls (the runtime frees a finished task just after it resumes its caller) for at most
    /// 5 s — far below the 10-minute deadline a lingering timer would wait for.
    static func released(_ isGone: () -> Bool) async -> Bool {
        for _ in 0..<500 {
            if isGone() { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return isGone()
    }

    @Test func aFinishedOperationIsLetGoLongBeforeItsDeadline() async {
        weak var weakToken: Token?
        do {
            let token = Token()
            weakToken = token
            // The timeout side holds the token: what the deadline keeps of a finished node.
            let v = await withDeadline(.seconds(600), { 1 }, onTimeout: { _ = token; return 0 })
            #expect(v == 1)
        }
        #expect(await Self.released { weakToken == nil }, "a finished node's deadline is still held (until it would have fired)")
    }

    @Test func anOperationPastItsDeadlineGivesTheTimeoutValueAndIsLetGo() async {
        weak var weakToken: Token?
        do {
            let token = Token()
            weakToken = token
            // Ignores cancellation for a while, as a stuck transport would.
            let v = await withDeadline(.milliseconds(20), {
                _ = token
                let start = ContinuousClock.now
                while ContinuousClock.now - start < .milliseconds(200) { try? await Task.sleep(for: .milliseconds(5)) }
                return 1
            }, onTimeout: { -1 })
            #expect(v == -1)
        }
        #expect(await Self.released { weakToken == nil })
    }

    @Test func cancellingTheCallerCancelsTheOperation() async {
        let started = AsyncStream<Void>.makeStream()
        let task = Task {
            await withDeadline(.seconds(600), {
                started.continuation.yield()
                do { try await Task.sleep(for: .seconds(600)); return 1 } catch { return 2 }
            }, onTimeout: { 0 })
        }
        for await _ in started.stream { break }
        task.cancel()
        #expect(await task.value == 2)
    }
}
