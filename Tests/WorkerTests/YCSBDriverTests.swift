import Foundation
import Kafka
import Testing

extension WorkerSuites {
    /// The YCSB driver against a worker of the ycsb application, both as processes.
    @Suite(.serialized) struct YCSBDriverTests {
        struct Results: Decodable {
            struct Checks: Decodable {
                var requests: Int
                var unanswered: Int
                var conflictingOutcomes: Int
                var balanceTotal: Int?
                var expectedBalanceTotal: Int
            }

            var statuses: [String: Int]
            var checks: Checks
        }

        @Test func theDriverLoadsRunsAndChecksAWorkload() async throws {
            let id = Broker.uniqueID("ycsb")
            let admin = try KafkaAdmin(configuration: .init(bootstrapServers: Broker.bootstrap))
            try await admin.createTopic("\(id)-requests", partitions: 4)
            try await admin.createTopic("\(id)-responses", partitions: 4)
            let worker = try WorkerProcess(["--app", "ycsb", "--application-id", id, "--partitions", "4", "--ycsb-requests", "\(id)-requests",
                                            "--ycsb-responses", "\(id)-responses"], name: "ycsb-worker")
            let output = NSTemporaryDirectory() + id
            let driver = try WorkerProcess(["--requests-topic", "\(id)-requests", "--responses-topic", "\(id)-responses", "--records", "300",
                                            "--rate", "200", "--seconds", "3", "--output", output], name: "ycsb-driver", product: "ycsb-driver")
            try await eventually("the driver to finish", seconds: 180) { !driver.process.isRunning }
            #expect(driver.process.terminationStatus == 0, "the driver's checks pass: \(driver.log)")

            let results = try JSONDecoder().decode(Results.self, from: Data(contentsOf: URL(fileURLWithPath: output + "/results.json")))
            #expect(results.checks.requests == 600)
            #expect(results.checks.unanswered == 0 && results.checks.conflictingOutcomes == 0)
            #expect(results.checks.balanceTotal == results.checks.expectedBalanceTotal)
            #expect(results.statuses["200", default: 0] > 500, "statuses: \(results.statuses)")
            #expect(driver.log.contains("answered"), "live progress is printed")
            let csv = try String(contentsOfFile: output + "/progress.csv", encoding: .utf8)
            #expect(csv.split(separator: "\n").count >= 4, "a header and a row per second")
            #expect(try String(contentsOfFile: output + "/chart.svg", encoding: .utf8).contains("<polyline"))

            // The step-up search on the same accounts; a p99 bound of 1 ms ends it after one step.
            let searchOutput = output + "-search"
            let search = try WorkerProcess(["--requests-topic", "\(id)-requests", "--responses-topic", "\(id)-responses", "--records", "300",
                                            "--skip-load", "--search", "--rate", "100", "--step-seconds", "2", "--max-p99", "1",
                                            "--output", searchOutput], name: "ycsb-search", product: "ycsb-driver")
            try await eventually("the search to finish", seconds: 120) { !search.process.isRunning }
            #expect(search.process.terminationStatus == 0, "\(search.log)")
            let steps = try String(contentsOfFile: searchOutput + "/steps.csv", encoding: .utf8).split(separator: "\n")
            #expect(steps.count == 2 && steps[1].hasPrefix("100,") && steps[1].hasSuffix(",false"), "one step, not sustained: \(steps)")
            #expect(search.log.contains("maximum sustainable throughput | below the first step"))
            worker.terminate()
            #expect(worker.process.terminationStatus == 0)
        }
    }
}
