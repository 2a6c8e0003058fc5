import Foundation
import YCSB

/// One line of live progress: a second of the run phase.
struct ProgressRow: Codable {
    var elapsed: Int
    var sent: Int
    var answered: UInt64
    /// Client-side latency (see `ResponseTracker`).
    var p50Milliseconds: Double
    var p99Milliseconds: Double
    var serverP50Milliseconds: Double
    var serverP99Milliseconds: Double
    var errors: Int
}

/// Offers requests at a fixed rate, timed from the schedule (a stall does not lower the
/// rate), and prints a progress line every second. The schedule runs in ticks (`tick`
/// milliseconds): the requests due within a tick are produced together at its start,
/// after one wake-up, so that they make one batch without waiting in the producer, and the
/// driver does not take a core from the engine it measures by waking for every request.
struct RunPhase {
    let client: Client
    let tracker: ResponseTracker
    let workload: Workload
    let runID: String
    let rate: Int
    let seconds: Int
    /// `--tick`; nil: by the rate (`Driver.tick(forRate:)`).
    let tick: Int?

    struct Result {
        var requestIDs: [String]
        var rows: [ProgressRow]
        var offeredRate: Double
        /// Responses per second from the start to the last progress row. (A mean of the rows
        /// would count a last row of a few milliseconds as a whole second.)
        var answeredRate: Double
    }

    func run() async throws -> Result {
        var generator = SplitMix64()
        var ids: [String] = []
        var rows: [ProgressRow] = []
        let total = rate * seconds
        let start = ContinuousClock.now
        var nextReport = start + .seconds(1)
        var sentInWindow = 0
        let tickMilliseconds = Int64(tick ?? Driver.tick(forRate: rate))
        for index in 0..<total {
            let tickIndex = Int64(index) * 1_000 / Int64(rate) / tickMilliseconds
            let due = start + .milliseconds(tickIndex * tickMilliseconds)
            if due > ContinuousClock.now { try await Task.sleep(until: due) }
            if ContinuousClock.now >= nextReport {
                await client.confirm()
                rows.append(report(elapsed: rows.count + 1, sent: sentInWindow))
                sentInWindow = 0
                nextReport += .seconds(1)
            }
            let request = workload.request("\(runID)-\(index)", using: &generator)
            ids.append(request.request_id)
            try await client.enqueue(request)
            sentInWindow += 1
        }
        await client.confirm()
        rows.append(report(elapsed: rows.count + 1, sent: sentInWindow))
        let elapsed = (ContinuousClock.now - start).seconds
        return Result(requestIDs: ids, rows: rows, offeredRate: Double(total) / elapsed,
                      answeredRate: Double(rows.reduce(0) { $0 + $1.answered }) / elapsed)
    }

    private func report(elapsed: Int, sent: Int) -> ProgressRow {
        let (window, errors) = tracker.withState { $0.takeWindow() }
        let (client, server) = (window.clientPercentiles, window.serverPercentiles)
        let row = ProgressRow(elapsed: elapsed, sent: sent, answered: window.count, p50Milliseconds: client.p50,
                              p99Milliseconds: client.p99, serverP50Milliseconds: server.p50, serverP99Milliseconds: server.p99,
                              errors: errors)
        progress(String(format: "[%3d s] sent %5d/s  answered %5d/s  p50 %7.1f ms  p99 %7.1f ms  (server %6.1f / %6.1f)  errors %d",
                        row.elapsed, row.sent, Int(row.answered), row.p50Milliseconds, row.p99Milliseconds, row.serverP50Milliseconds,
                        row.serverP99Milliseconds, row.errors))
        return row
    }

    static func chart(_ rows: [ProgressRow], title: String) -> Chart {
        Chart(title: title, xLabel: "elapsed (s)", yLabel: "latency (ms)", series: [
            .init(name: "p99", color: "#c0392b", points: rows.map { (Double($0.elapsed), $0.p99Milliseconds) }),
            .init(name: "p50", color: "#2471a3", points: rows.map { (Double($0.elapsed), $0.p50Milliseconds) }),
        ])
    }
}
