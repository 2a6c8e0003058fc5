import Foundation
import Kafka
import Testing

/// A YCSB application on its own topics, run by worker and driver processes.
struct YCSBScenario {
    struct Results: Decodable {
        struct Checks: Decodable {
            var requests: Int
            var unanswered: Int
            var stillUnansweredIDs: [String]
            var conflictingOutcomes: Int
            var repeatedResponses: Int
            var balanceTotal: Int?
            var negativeBalances: Int?
            var unreadAccounts: Int
            var expectedBalanceTotal: Int
        }

        var statuses: [String: Int]
        var latencyMilliseconds: [String: Double]?
        var checks: Checks
    }

    let id: String
    var bootstrap = Broker.bootstrap
    var output: String { NSTemporaryDirectory() + id }

    static func make(_ prefix: String, bootstrap: String = Broker.bootstrap) async throws -> YCSBScenario {
        let scenario = YCSBScenario(id: Broker.uniqueID(prefix), bootstrap: bootstrap)
        let admin = try KafkaAdmin(configuration: .init(bootstrapServers: bootstrap))
        try await admin.createTopic("\(scenario.id)-requests", partitions: 4)
        try await admin.createTopic("\(scenario.id)-responses", partitions: 4)
        return scenario
    }

    func worker(_ name: String, _ arguments: [String] = []) throws -> WorkerProcess {
        try WorkerProcess(["--app", "ycsb", "--application-id", id, "--partitions", "4", "--ycsb-requests", "\(id)-requests",
                           "--ycsb-responses", "\(id)-responses"] + arguments, name: name, bootstrap: bootstrap)
    }

    func driver(_ name: String, output: String, _ arguments: [String]) throws -> WorkerProcess {
        try WorkerProcess(["--requests-topic", "\(id)-requests", "--responses-topic", "\(id)-responses", "--output", output] + arguments,
                          name: name, product: "ycsb-driver", bootstrap: bootstrap)
    }

    func results(in output: String) throws -> Results {
        try JSONDecoder().decode(Results.self, from: Data(contentsOf: URL(fileURLWithPath: output + "/results.json")))
    }
}

extension WorkerSuites {
    /// The YCSB driver against a worker of the ycsb application, both as processes.
    @Suite(.serialized) struct YCSBDriverTests {
        @Test func theDriverLoadsRunsAndChecksAWorkload() async throws {
            let ycsb = try await YCSBScenario.make("ycsb")
            let worker = try ycsb.worker("ycsb-worker")
            let output = ycsb.output
            let driver = try ycsb.driver("ycsb-driver", output: output, ["--records", "300", "--rate", "200", "--seconds", "3",
                                                                         "--metrics-port", "0"])
            // While it runs, its metrics count at least the load: 300 inserts sent, answered and timed.
            try await eventually("the driver's metrics endpoint") { driver.metricsPort != nil }
            let port = try #require(driver.metricsPort)
            try await eventually("the driver's metrics to count the load") {
                let samples = (try? await MetricsTests.scrape(port: port)) ?? []
                return samples.sum("ycsb_requests_sent_total") >= 300 && samples.sum("ycsb_responses_total", ["status": "200"]) >= 300
                    && samples.sum("ycsb_latency_seconds_count", ["side": "client"]) >= 300
                    && samples.sum("ycsb_latency_seconds_count", ["side": "server"]) >= 300
            }
            try await eventually("the driver to finish", seconds: 180) { !driver.process.isRunning }
            #expect(driver.process.terminationStatus == 0, "the driver's checks pass: \(driver.log)")

            let results = try ycsb.results(in: output)
            #expect(results.checks.requests == 600)
            #expect(results.checks.unanswered == 0 && results.checks.conflictingOutcomes == 0)
            #expect(results.checks.balanceTotal == results.checks.expectedBalanceTotal)
            #expect(results.checks.negativeBalances == 0)
            #expect(results.statuses["200", default: 0] > 500, "statuses: \(results.statuses)")
            #expect(driver.log.contains("answered"), "live progress is printed")
            let csv = try String(contentsOfFile: output + "/progress.csv", encoding: .utf8)
            #expect(csv.split(separator: "\n").count >= 4, "a header and a row per second")
            #expect(try String(contentsOfFile: output + "/chart.svg", encoding: .utf8).contains("<polyline"))

            // The step-up search on the same accounts; a p99 bound of 1 ms fails the first rate,
            // which is tried once more before the search ends. Its --bootstrap leads nowhere:
            // the --kafka property must reach every client of the driver.
            let searchOutput = output + "-search"
            var elsewhere = ycsb
            elsewhere.bootstrap = "127.0.0.1:1"
            let search = try elsewhere.driver("ycsb-search", output: searchOutput, [
                "--records", "300", "--skip-load", "--search", "--rate", "100", "--step-seconds", "2", "--max-p99", "1",
                "--kafka", "bootstrap.servers=\(ycsb.bootstrap)",
            ])
            try await eventually("the search to finish", seconds: 120) { !search.process.isRunning }
            #expect(search.process.terminationStatus == 0, "\(search.log)")
            let steps = try String(contentsOfFile: searchOutput + "/steps.csv", encoding: .utf8).split(separator: "\n")
            #expect(steps.count == 3 && steps.dropFirst().allSatisfy { $0.hasPrefix("100,") && $0.hasSuffix(",false") },
                    "the first rate, not sustained twice: \(steps)")
            #expect(search.log.contains("maximum sustainable throughput | below the first step"))
            await worker.terminate()
            #expect(worker.process.terminationStatus == 0)
        }
    }
}
