import Foundation
import YCSB

/// The end of a run: throughput, latency percentiles, statuses and the checks, printed as a
/// table and written as JSON (summary) and CSV (progress per second).
struct Summary: Codable {
    struct Checks: Codable {
        var requests: Int
        var unanswered: Int
        /// Requests answered twice with different outcomes: must be 0.
        var conflictingOutcomes: Int
        /// Repeats of the same response record (dropped by request id).
        var repeatedResponses: Int
        var balanceTotal: Int?
        var expectedBalanceTotal: Int
    }

    var protocolName: String
    var distribution: String
    var records: Int
    var mix: String
    var offeredRate: Double
    var answeredRate: Double
    var p50Milliseconds: Double
    var p95Milliseconds: Double
    var p99Milliseconds: Double
    var maxMilliseconds: Double
    var statuses: [String: Int]
    var checks: Checks

    /// `latency`: p50, p95, p99 and max of the run phase, in milliseconds.
    init(configuration: Driver, progress: RunPhase.Result, latency: [Double], tracker: ResponseTracker, missing: Int, balanceTotal: Int?,
         expectedTotal: Int) {
        protocolName = configuration.protocol
        distribution = configuration.distribution
        records = configuration.records
        mix = "\(configuration.read)/\(configuration.update)/\(configuration.transfer) read/update/transfer"
        offeredRate = progress.offeredRate
        let ids = progress.requestIDs
        (p50Milliseconds, p95Milliseconds, p99Milliseconds, maxMilliseconds) = (latency[0], latency[1], latency[2], latency[3])
        (statuses, checks) = tracker.withState { state in
            var statuses: [String: Int] = [:]
            for id in ids { if let status = state.answers[id]?.status { statuses["\(status)", default: 0] += 1 } }
            return (statuses, Checks(requests: ids.count, unanswered: missing, conflictingOutcomes: state.conflicting,
                                     repeatedResponses: state.repeats, balanceTotal: balanceTotal, expectedBalanceTotal: expectedTotal))
        }
        let answeredInRun = progress.rows.reduce(0) { $0 + Int($1.answered) }
        answeredRate = Double(answeredInRun) / Double(max(1, progress.rows.count))
    }

    var balanceConserved: Bool { checks.balanceTotal.map { $0 == checks.expectedBalanceTotal } ?? true }
    var checksPass: Bool { checks.unanswered == 0 && checks.conflictingOutcomes == 0 && balanceConserved }

    func print() {
        Swift.print("""

        | \(protocolName), \(distribution), \(records) accounts, \(mix) | |
        |---|---|
        | offered / answered | \(String(format: "%.0f", offeredRate)) / \(String(format: "%.0f", answeredRate)) requests/s |
        | latency p50 / p95 / p99 / max | \(String(format: "%.1f / %.1f / %.1f / %.1f", p50Milliseconds, p95Milliseconds, p99Milliseconds, maxMilliseconds)) ms |
        | statuses | \(statuses.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")) |

        checks:
        - every request answered exactly once: \(checks.unanswered == 0 && checks.conflictingOutcomes == 0 ? "yes" : "NO") \
        (\(checks.requests) requests, \(checks.unanswered) unanswered, \(checks.conflictingOutcomes) with two outcomes, \
        \(checks.repeatedResponses) repeated response records)
        - sum of balances: \(checks.balanceTotal.map { "\($0), expected \(checks.expectedBalanceTotal): \(balanceConserved ? "conserved" : "NOT conserved")" } ?? "not checked (no load in this run)")
        - aborted and retryable (409): \(statuses["409", default: 0])
        """)
    }

    func write(to directory: String, rows: [ProgressRow]) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(self).write(to: URL(fileURLWithPath: directory + "/results.json"))
        let csv = ["elapsed_s,sent,answered,p50_ms,p99_ms,errors"] + rows.map {
            "\($0.elapsed),\($0.sent),\($0.answered),\($0.p50Milliseconds),\($0.p99Milliseconds),\($0.errors)"
        }
        try (csv.joined(separator: "\n") + "\n").write(toFile: directory + "/progress.csv", atomically: true, encoding: .utf8)
        Swift.print("results: \(directory)/results.json, \(directory)/progress.csv")
    }
}
