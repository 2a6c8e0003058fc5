import Foundation
import YCSB

/// The end of a run: throughput, latency percentiles (or the search's steps), statuses and the
/// checks, printed as a table and written as results.json, with the CSV and the SVG chart.
struct Summary: Codable {
    struct Checks: Codable {
        var requests = 0
        var unanswered = 0
        /// Requests still without an answer when the checks ran (at most 100), to look up in the
        /// workers' logs; empty when the unanswered ones were only late.
        var stillUnansweredIDs: [String] = []
        /// Requests answered twice with different outcomes: must be 0.
        var conflictingOutcomes = 0
        /// Repeats of the same response record (dropped by request id).
        var repeatedResponses = 0
        var balanceTotal: Int?
        /// Accounts read back with a balance below zero: must be 0 with either protocol.
        var negativeBalances: Int?
        /// Accounts whose balance could not be read back for the sum.
        var unreadAccounts = 0
        var expectedBalanceTotal = 0
    }

    var protocolName: String
    var distribution: String
    var records: Int
    var mix: String
    /// A fixed-rate run: offered and answered requests/s, client-side and server-side latency
    /// (see `ResponseTracker`).
    var offeredRate: Double?
    var answeredRate: Double?
    var latencyMilliseconds: Percentiles?
    var serverLatencyMilliseconds: Percentiles?
    /// A search: its steps and the highest rate sustained.
    var steps: [StepSearch.Step]?
    var maxSustainedRate: Int?
    var statuses: [String: Int] = [:]
    var checks = Checks()

    private init(configuration: Driver) {
        protocolName = configuration.protocol
        distribution = configuration.distribution
        records = configuration.records
        mix = "\(configuration.read)/\(configuration.update)/\(configuration.transfer) read/update/transfer"
    }

    init(configuration: Driver, progress: RunPhase.Result, latency: LatencyHistograms) {
        self.init(configuration: configuration)
        offeredRate = progress.offeredRate
        answeredRate = progress.answeredRate
        latencyMilliseconds = latency.clientPercentiles
        serverLatencyMilliseconds = latency.serverPercentiles
    }

    init(configuration: Driver, steps: [StepSearch.Step]) {
        self.init(configuration: configuration)
        self.steps = steps
        maxSustainedRate = steps.last { $0.sustained }?.offered
    }

    /// `balances`: the accounts' balances read back after the run; nil when they were not read.
    mutating func check(_ ids: [String], tracker: ResponseTracker, missing: Int, balances: [Int]?, unreadAccounts: Int, expectedTotal: Int) {
        (statuses, checks) = tracker.withState { state in
            var statuses: [String: Int] = [:]
            for id in ids { if let status = state.answers[id]?.status { statuses["\(status)", default: 0] += 1 } }
            let stillUnanswered = missing == 0 ? [] : Array(ids.filter { state.answers[$0] == nil }.prefix(100))
            return (statuses, Checks(requests: ids.count, unanswered: missing, stillUnansweredIDs: stillUnanswered,
                                     conflictingOutcomes: state.conflicting, repeatedResponses: state.repeats,
                                     balanceTotal: balances?.reduce(0, +), negativeBalances: balances?.count { $0 < 0 },
                                     unreadAccounts: unreadAccounts, expectedBalanceTotal: expectedTotal))
        }
    }

    var balanceConserved: Bool {
        checks.unreadAccounts == 0 && (checks.balanceTotal.map { $0 == checks.expectedBalanceTotal } ?? true)
    }
    var checksPass: Bool { checks.unanswered == 0 && checks.conflictingOutcomes == 0 && balanceConserved && (checks.negativeBalances ?? 0) == 0 }

    func print() {
        Swift.print("\n| \(protocolName), \(distribution), \(records) accounts, \(mix) | |\n|---|---|")
        if let offeredRate, let answeredRate, let client = latencyMilliseconds, let server = serverLatencyMilliseconds {
            Swift.print(String(format: "| offered / answered | %.0f / %.0f requests/s |", offeredRate, answeredRate))
            Swift.print(String(format: "| latency p50 / p95 / p99 / max | %.1f / %.1f / %.1f / %.1f ms |",
                               client.p50, client.p95, client.p99, client.max))
            Swift.print(String(format: "| server-side p50 / p95 / p99 / max | %.1f / %.1f / %.1f / %.1f ms |",
                               server.p50, server.p95, server.p99, server.max))
        }
        for (index, step) in (steps ?? []).enumerated() {
            Swift.print(String(format: "| step %d: offered %d/s | achieved %.0f/s, p50 %.1f ms, p99 %.1f ms (server %.1f / %.1f)%@ |",
                               index + 1, step.offered, step.achieved, step.p50Milliseconds, step.p99Milliseconds,
                               step.serverP50Milliseconds, step.serverP99Milliseconds, step.sustained ? "" : " (not sustained)"))
        }
        if steps != nil { Swift.print("| maximum sustainable throughput | \(maxSustainedRate.map { "\($0) requests/s" } ?? "below the first step") |") }
        Swift.print("| statuses | \(statuses.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")) |")
        Swift.print("""

        checks:
        - every request answered exactly once: \(checks.unanswered == 0 && checks.conflictingOutcomes == 0 ? "yes" : "NO") \
        (\(checks.requests) requests, \(checks.unanswered) unanswered, \(checks.conflictingOutcomes) with two outcomes, \
        \(checks.repeatedResponses) repeated response records)
        - sum of balances: \(checks.balanceTotal.map { "\($0), expected \(checks.expectedBalanceTotal): \(balanceConserved ? "conserved" : "NOT conserved")" } ?? "not checked (no load in this run)")\
        \(checks.unreadAccounts > 0 ? " (\(checks.unreadAccounts) accounts not read back)" : "")
        - balances below zero: \(checks.negativeBalances.map { "\($0)" } ?? "not checked (no load in this run)")
        - aborted and retryable (409): \(statuses["409", default: 0])
        """)
    }

    func write(to directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(self).write(to: URL(fileURLWithPath: directory + "/results.json"))
        if let steps {
            let csv = ["offered,achieved,p50_ms,p99_ms,server_p50_ms,server_p99_ms,sustained"] + steps.map {
                "\($0.offered),\($0.achieved),\($0.p50Milliseconds),\($0.p99Milliseconds),\($0.serverP50Milliseconds)," +
                    "\($0.serverP99Milliseconds),\($0.sustained)"
            }
            try (csv.joined(separator: "\n") + "\n").write(toFile: directory + "/steps.csv", atomically: true, encoding: .utf8)
        }
        Swift.print("results: \(directory)/results.json, \(steps == nil ? "progress.csv" : "steps.csv"), chart.svg")
    }

    func writeProgress(_ rows: [ProgressRow], to directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let csv = ["elapsed_s,sent,answered,p50_ms,p99_ms,server_p50_ms,server_p99_ms,errors"] + rows.map {
            "\($0.elapsed),\($0.sent),\($0.answered),\($0.p50Milliseconds),\($0.p99Milliseconds),\($0.serverP50Milliseconds)," +
                "\($0.serverP99Milliseconds),\($0.errors)"
        }
        try (csv.joined(separator: "\n") + "\n").write(toFile: directory + "/progress.csv", atomically: true, encoding: .utf8)
    }

    func writeChart(_ chart: Chart, to directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try chart.svg().write(toFile: directory + "/chart.svg", atomically: true, encoding: .utf8)
    }
}
