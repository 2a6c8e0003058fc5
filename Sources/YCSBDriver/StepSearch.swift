import Foundation

/// The step-up search for the maximum sustainable throughput: runs steps of rising rate until
/// a rate fails twice in a row. A step fails when it achieves less than 95% of its rate or its
/// p99 exceeds the bound; a failed step is run once more, after its requests are answered, so
/// that one passing stall of the machine or the broker does not end the search.
struct StepSearch {
    struct Step: Codable {
        var offered: Int
        var achieved: Double
        /// Client-side latency (see `ResponseTracker`).
        var p50Milliseconds: Double
        var p99Milliseconds: Double
        var serverP50Milliseconds: Double
        var serverP99Milliseconds: Double
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
    /// `--tick`; nil: by each step's rate.
    let tick: Int?

    /// The steps, and every request sent (for the end-of-run checks).
    func run() async throws -> (steps: [Step], requestIDs: [String]) {
        var steps: [Step] = []
        var ids: [String] = []
        var rate = startRate
        var retrying = false
        while true {
            progress("step \(steps.count + 1): \(rate) requests/s for \(stepSeconds) s")
            tracker.withState { $0.resetMeasurements() }
            let started = ContinuousClock.now
            let phase = try await RunPhase(client: client, tracker: tracker, workload: workload, runID: "\(runID)-s\(steps.count)",
                                           rate: rate, seconds: stepSeconds, tick: tick).run()
            ids += phase.requestIDs
            // Answers within a second of the step's end count towards it.
            try await Task.sleep(for: .seconds(1))
            let answered = tracker.withState { state in phase.requestIDs.count { state.answers[$0] != nil } }
            let achieved = Double(answered) / ((ContinuousClock.now - started).seconds - 1)
            let latency = tracker.withState(\.total)
            let (client, server) = (latency.clientPercentiles, latency.serverPercentiles)
            let sustained = achieved >= 0.95 * Double(rate) && client.p99 <= maxP99Milliseconds
            steps.append(Step(offered: rate, achieved: achieved, p50Milliseconds: client.p50, p99Milliseconds: client.p99,
                              serverP50Milliseconds: server.p50, serverP99Milliseconds: server.p99, sustained: sustained))
            let verdict = sustained ? "sustained" : retrying ? "not sustained again, stopping" : "not sustained, trying once more"
            progress(String(format: "step %d: offered %d/s, achieved %.0f/s, p50 %.1f ms, p99 %.1f ms (server %.1f / %.1f): %@", steps.count,
                            rate, achieved, client.p50, client.p99, server.p50, server.p99, verdict))
            if sustained {
                rate += increment
                retrying = false
            } else if retrying {
                return (steps, ids)
            } else {
                retrying = true
                await drain(phase.requestIDs)
            }
        }
    }

    /// Waits until `ids` are answered (at most 30 s), so that a retried step is not measured on
    /// the backlog of the failed one.
    private func drain(_ ids: [String]) async {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline, tracker.withState({ state in ids.contains { state.answers[$0] == nil } }) {
            try? await Task.sleep(for: .milliseconds(200))
        }
    }

    static func chart(_ steps: [Step], title: String) -> Chart {
        Chart(title: title, xLabel: "achieved throughput (requests/s)", yLabel: "latency (ms)", series: [
            .init(name: "p99", color: "#c0392b", points: steps.map { ($0.achieved, $0.p99Milliseconds) }),
            .init(name: "p50", color: "#2471a3", points: steps.map { ($0.achieved, $0.p50Milliseconds) }),
        ])
    }
}
