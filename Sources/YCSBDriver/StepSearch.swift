import Foundation

/// The step-up search for the maximum sustainable throughput: runs steps of rising rate until
/// a step achieves less than 95% of its rate or its p99 exceeds the bound.
struct StepSearch {
    struct Step: Codable {
        var offered: Int
        var achieved: Double
        var p50Milliseconds: Double
        var p99Milliseconds: Double
        var sustained: Bool
    }

    let client: Client
    let tracker: ResponseTracker
    let workload: Workload
    let runID: String
    let startRate: Int
    let increment: Int
    let stepSeconds: Int
    let maxP99Milliseconds: Double

    /// The steps, and every request sent (for the end-of-run checks).
    func run() async throws -> (steps: [Step], requestIDs: [String]) {
        var steps: [Step] = []
        var ids: [String] = []
        var rate = startRate
        while true {
            progress("step \(steps.count + 1): \(rate) requests/s for \(stepSeconds) s")
            tracker.withState { $0.resetMeasurements() }
            let started = ContinuousClock.now
            let phase = try await RunPhase(client: client, tracker: tracker, workload: workload, runID: "\(runID)-s\(steps.count)",
                                           rate: rate, seconds: stepSeconds).run()
            ids += phase.requestIDs
            // Answers within a second of the step's end count towards it.
            try await Task.sleep(for: .seconds(1))
            let answered = tracker.withState { state in phase.requestIDs.count { state.answers[$0] != nil } }
            let achieved = Double(answered) / ((ContinuousClock.now - started).seconds - 1)
            let latency = tracker.withState(\.latencyPercentiles)
            let sustained = achieved >= 0.95 * Double(rate) && latency[2] <= maxP99Milliseconds
            steps.append(Step(offered: rate, achieved: achieved, p50Milliseconds: latency[0], p99Milliseconds: latency[2], sustained: sustained))
            progress(String(format: "step %d: offered %d/s, achieved %.0f/s, p50 %.1f ms, p99 %.1f ms: %@", steps.count, rate, achieved,
                         latency[0], latency[2], sustained ? "sustained" : "not sustained, stopping"))
            guard sustained else { return (steps, ids) }
            rate += increment
        }
    }

    static func chart(_ steps: [Step], title: String) -> Chart {
        Chart(title: title, xLabel: "achieved throughput (requests/s)", yLabel: "latency (ms)", series: [
            .init(name: "p99", color: "#c0392b", points: steps.map { ($0.achieved, $0.p99Milliseconds) }),
            .init(name: "p50", color: "#2471a3", points: steps.map { ($0.achieved, $0.p50Milliseconds) }),
        ])
    }
}
