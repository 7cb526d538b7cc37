import Foundation
import Testing
@testable import FleetRollout

/// Drives the scheduler through simulated time: every node takes `duration(i)`, the ones
/// in `failing` fail, and a stop may be requested at `stopAt`. No clock, no sleeping.
private struct Simulation {
    var starts: [(index: Int, at: Duration)] = []
    var finishes: [(index: Int, at: Duration)] = []
    var maxConcurrent = 0
    var end: RolloutEnd?
    var scheduler: RolloutScheduler

    init(total: Int, policy: RolloutPolicy, duration: (Int) -> Duration = { _ in .seconds(10) },
         failing: Set<Int> = [], stopAt: Duration? = nil) {
        scheduler = RolloutScheduler(total: total, policy: policy)
        var now: Duration = .zero
        var pending: [(at: Duration, index: Int)] = []
        var stopped = false
        var steps = 0
        while end == nil {
            steps += 1
            precondition(steps < 100_000, "scheduler does not terminate")
            if let s = stopAt, !stopped, now >= s { scheduler.requestStop(); stopped = true }
            let decision = scheduler.next(now: now)
            var wakeAt: Duration?
            switch decision {
            case .start(let i):
                starts.append((i, now))
                pending.append((now + duration(i), i))
                maxConcurrent = max(maxConcurrent, scheduler.inFlight.count)
                continue
            case .finished(let e):
                end = e
                continue
            case .wait(let until):
                wakeAt = until
            case .waitForCompletion:
                wakeAt = nil
            }
            let nextFinish = pending.map(\.at).min()
            var candidates = [wakeAt, nextFinish].compactMap { $0 }
            if let s = stopAt, !stopped, s > now { candidates.append(s) }
            guard let t = candidates.min() else { Issue.record("stuck at \(now) with \(decision)"); return }
            now = max(now, t)
            for p in pending.filter({ $0.at <= now }).sorted(by: { ($0.at, $0.index) < ($1.at, $1.index) }) {
                finishes.append((p.index, p.at))
                scheduler.finished(p.index, failed: failing.contains(p.index), now: p.at)
            }
            pending.removeAll { $0.at <= now }
        }
    }

    var batchSizes: [Int] { scheduler.batches.map(\.count) }
    func startTime(_ i: Int) -> Duration? { starts.first { $0.index == i }?.at }
}

@Suite struct SchedulerTests {
    @Test func rampOneFiveTwentyFivePercent() {
        // 100 nodes: canary 1, then 5, then 25% of the 94 left (23.5 → 24) repeated.
        let sim = Simulation(total: 100, policy: RolloutPolicy(batches: BatchSize.parseList("1,5,25%")!, maxInFlight: 50))
        #expect(sim.end == .completed)
        #expect(sim.batchSizes == [1, 5, 24, 24, 24, 22])
        #expect(sim.starts.count == 100)
        #expect(Set(sim.starts.map(\.index)) == Set(0..<100))
    }

    @Test func batchStartsOnlyAfterPreviousBatchFinished() {
        // Node 0 (canary) takes 50 s; batch 2 must not start before it finishes.
        let sim = Simulation(total: 10, policy: RolloutPolicy(batches: [.count(1), .count(3)], maxInFlight: 10),
                             duration: { $0 == 0 ? .seconds(50) : .seconds(10) })
        #expect(sim.batchSizes == [1, 3, 3, 3])
        #expect(sim.startTime(1) == .seconds(50))
        #expect(sim.startTime(3) == .seconds(50))
        // Batch 3 (nodes 4-6) after batch 2 (ends at 60 s).
        #expect(sim.startTime(4) == .seconds(60))
        #expect(sim.startTime(7) == .seconds(70))
        #expect(sim.startTime(9) == .seconds(70))
    }

    @Test func maxFailuresTwoStopsBeforeThirdBatch() {
        // Batch 2 has 5 nodes, all failing: 5 > 2, so batch 3 never starts.
        let sim = Simulation(total: 30, policy: RolloutPolicy(batches: BatchSize.parseList("1,5,25%")!, maxInFlight: 5,
                                                               maxFailures: FailureThreshold("2")),
                             failing: Set(1...5))
        #expect(sim.end == .maxFailures)
        #expect(sim.batchSizes == [1, 5])
        #expect(sim.starts.map(\.index).sorted() == [0, 1, 2, 3, 4, 5])
        #expect(sim.finishes.count == 6, "in-flight nodes still finish")
        #expect(sim.scheduler.notStarted == 6..<30)
        #expect(sim.scheduler.failures == 5)
    }

    @Test func maxFailuresStopsStartingInsideABatch() {
        // One at a time: the third failure exceeds 2 and the rest of the batch never starts.
        let sim = Simulation(total: 10, policy: RolloutPolicy(batches: [.count(10)], maxInFlight: 1,
                                                               maxFailures: .count(2)),
                             failing: Set(0..<10))
        #expect(sim.end == .maxFailures)
        #expect(sim.starts.map(\.index) == [0, 1, 2])
    }

    @Test func maxFailuresExactlyAtLimitContinues() {
        let sim = Simulation(total: 10, policy: RolloutPolicy(batches: [.count(2)], maxInFlight: 2, maxFailures: .count(2)),
                             failing: [0, 1])
        #expect(sim.end == .completed)
        #expect(sim.starts.count == 10)
    }

    @Test func maxFailuresPercentOfRun() {
        // 10% of 20 nodes allows 2 failures; the third stops the run.
        let sim = Simulation(total: 20, policy: RolloutPolicy(batches: [.count(1)], maxInFlight: 1,
                                                               maxFailures: FailureThreshold("10%")),
                             failing: [3, 5, 7, 9])
        #expect(sim.end == .maxFailures)
        #expect(sim.starts.map(\.index) == Array(0...7))
    }

    @Test func rateLimitSpacesStartsInFakeTime() {
        // 30/min = one start every 2 s, even with room for 100 in flight.
        let sim = Simulation(total: 6, policy: RolloutPolicy(batches: [.count(100)], maxInFlight: 100,
                                                              rate: RateLimit("30/min")),
                             duration: { _ in .seconds(1) })
        #expect(sim.starts.map(\.at) == [0, 2, 4, 6, 8, 10].map { Duration.seconds($0) })
    }

    @Test func rateLimitAcrossBatchesAndSlowNodes() {
        // Nodes take 5 s; rate 60/min allows one per second; batches of 2 with no pause:
        // a batch's second node starts 1 s after its first; the next batch waits for both.
        let sim = Simulation(total: 4, policy: RolloutPolicy(batches: [.count(2)], maxInFlight: 2,
                                                              rate: RateLimit("60/min")),
                             duration: { _ in .seconds(5) })
        #expect(sim.starts.map(\.at) == [0, 1, 6, 7].map { Duration.seconds($0) })
    }

    @Test func pauseBetweenBatchesInFakeTime() {
        let sim = Simulation(total: 7, policy: RolloutPolicy(batches: [.count(1), .count(3)], maxInFlight: 3,
                                                              pause: .seconds(30)),
                             duration: { _ in .seconds(10) })
        // Batch 1: 0-10 s; pause to 40 s; batch 2: 40-50 s; pause to 80 s; batch 3 at 80 s.
        #expect(sim.startTime(0) == .zero)
        #expect(sim.startTime(1) == .seconds(40))
        #expect(sim.startTime(3) == .seconds(40))
        #expect(sim.startTime(4) == .seconds(80))
        #expect(sim.startTime(6) == .seconds(80))
        #expect(sim.end == .completed)
    }

    @Test func maxInFlightNeverExceeded() {
        let sim = Simulation(total: 50, policy: RolloutPolicy(batches: [.count(50)], maxInFlight: 4),
                             duration: { .seconds(1 + $0 % 7) })
        #expect(sim.maxConcurrent == 4)
        #expect(sim.starts.count == 50)
    }

    @Test func stopRequestFinishesInFlightAndStartsNothingMore() {
        // 3 in flight from 0 to 10 s, stop at 5 s: those 3 finish, nothing else starts.
        let sim = Simulation(total: 9, policy: RolloutPolicy(batches: [.count(9)], maxInFlight: 3),
                             duration: { _ in .seconds(10) }, stopAt: .seconds(5))
        #expect(sim.end == .interrupted)
        #expect(sim.starts.map(\.index) == [0, 1, 2])
        #expect(sim.finishes.map(\.at) == [.seconds(10), .seconds(10), .seconds(10)])
    }

    @Test func stopDuringPauseEndsAtOnce() {
        let sim = Simulation(total: 5, policy: RolloutPolicy(batches: [.count(1)], maxInFlight: 1, pause: .seconds(600)),
                             duration: { _ in .seconds(1) }, stopAt: .seconds(100))
        #expect(sim.end == .interrupted)
        #expect(sim.starts.map(\.index) == [0])
    }

    @Test func emptyRunCompletes() {
        let sim = Simulation(total: 0, policy: RolloutPolicy())
        #expect(sim.end == .completed)
        #expect(sim.starts.isEmpty)
    }

    @Test func parsing() {
        #expect(BatchSize.parseList("1,5,25%") == [.count(1), .count(5), .percent(25)])
        #expect(BatchSize.parseList("1,,5") == nil)
        #expect(BatchSize.parseList("0") == nil)
        #expect(BatchSize.parseList("101%") == nil)
        #expect(RateLimit("30/min")?.interval == .seconds(2))
        #expect(RateLimit("2/s")?.interval == .milliseconds(500))
        #expect(RateLimit("0/min") == nil)
        #expect(RateLimit("5") == nil)
        #expect(RateLimit("5/fortnight") == nil)
        #expect(FailureThreshold("2") == .count(2))
        #expect(FailureThreshold("10%")?.allowed(total: 15) == 1)
        #expect(FailureThreshold("-1") == nil)
    }
}

/// The async driver with the real clock: node work is instant, so nothing here waits on time.
@Suite struct RolloutRunnerTests {
    @Test func runsEveryNodeOnceAndReportsFailures() async {
        let result = await RolloutRunner.run(count: 12, policy: RolloutPolicy(batches: [.count(1), .count(5)], maxInFlight: 3),
                                             clock: ContinuousClock()) { i, _ in i % 4 == 0 }
        #expect(result.end == .completed)
        #expect(result.failed.count == 12)
        #expect(result.failed.filter(\.value).map(\.key).sorted() == [0, 4, 8])
        #expect(result.batches.map(\.count) == [1, 5, 5, 1])
    }

    @Test func maxFailuresStopsTheDriver() async {
        let result = await RolloutRunner.run(count: 20, policy: RolloutPolicy(batches: [.count(1), .count(5)], maxInFlight: 5,
                                                                             maxFailures: .count(2)),
                                             clock: ContinuousClock()) { i, _ in i >= 1 }
        #expect(result.end == .maxFailures)
        #expect(result.batches.count == 2)
        #expect(result.notStarted == Array(6..<20))
    }

    @Test func stopSignalBeforeStartRunsNothing() async {
        let stop = RolloutStopSignal()
        stop.trigger()
        let result = await RolloutRunner.run(count: 5, policy: RolloutPolicy(), clock: ContinuousClock(), stop: stop) { _, _ in
            Issue.record("no node may start after a stop")
            return false
        }
        #expect(result.end == .interrupted)
        #expect(result.notStarted == [0, 1, 2, 3, 4])
    }

    @Test func stopSignalWakesALongPause() async {
        // A one-hour pause after the canary; the stop must end the run without waiting it out.
        let stop = RolloutStopSignal()
        let result = await RolloutRunner.run(count: 3, policy: RolloutPolicy(batches: [.count(1)], pause: .seconds(3600)),
                                             clock: ContinuousClock(), stop: stop) { _, _ in
            stop.trigger()
            return false
        }
        #expect(result.end == .interrupted)
        #expect(result.failed.keys.sorted() == [0])
    }
}
