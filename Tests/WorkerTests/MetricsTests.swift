import Bank
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Kafka
import StatefulFunctions
import Testing

/// One sample of Prometheus's text format: `name{label="value",...} number`.
struct MetricSample {
    var name: String
    var labels: [String: String]
    var value: Double

    init?(line: Substring) {
        guard !line.hasPrefix("#"), let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...])
        else { return nil }
        let series = line[..<space]
        self.value = value
        guard let brace = series.firstIndex(of: "{") else {
            (name, labels) = (String(series), [:])
            return
        }
        name = String(series[..<brace])
        labels = [:]
        for pair in series[series.index(after: brace)..<series.index(before: series.endIndex)].split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { return nil }
            labels[String(parts[0])] = String(parts[1].dropFirst().dropLast())
        }
    }
}

extension [MetricSample] {
    /// The sum of the samples named `name` whose labels include `labels`.
    func sum(_ name: String, _ labels: [String: String] = [:]) -> Double {
        values(name, labels).reduce(0, +)
    }

    func values(_ name: String, _ labels: [String: String] = [:]) -> [Double] {
        filter { sample in sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value } }.map(\.value)
    }
}

extension WorkerSuites {
    @Suite(.serialized) struct MetricsTests {
        /// `statefun-worker --metrics-port` during a small bank workload whose counts are known:
        /// records in and out per topic, a dead letter, transactions by outcome, epochs,
        /// checkpoints, releases, recoveries and lag.
        @Test func theMetricsEndpointCountsWhatTheWorkerDid() async throws {
            let bank = try await BankScenario.make("metrics")
            let worker = try WorkerProcess(bank.processArguments + ["--metrics-port", "0"], name: "metrics")
            try await eventually("the metrics endpoint's port in the log") { worker.metricsPort != nil }
            let port = try #require(worker.metricsPort)

            try await bank.open(["a", "b"], balance: 100)
            let transfers = [
                Bank.Request(request_id: "t1", op: "transfer", amount: 30, from: "a", to: "b"),
                Bank.Request(request_id: "t2", op: "transfer", amount: 500, from: "b", to: "a"),
                Bank.Request(request_id: "t3", op: "transfer", amount: 10, from: "b", to: "a", protocol: "saga"),
            ]
            try await bank.send(transfers)
            try await bank.producer.send(ProducerRecord(topic: bank.requestsTopic, key: "bad", value: "not json"))
            _ = try await bank.waitForAnswers(transfers.map(\.request_id))

            let app = ["application": bank.id]
            let requests = app.merging(["topic": bank.requestsTopic]) { $1 }
            var samples: [MetricSample] = []
            try await eventually("the metrics to count the whole workload") {
                samples = try await Self.scrape(port: port)
                return samples.sum("statefun_records_in_total", requests) == 6
                    && samples.sum("statefun_dead_letters_total", app) == 1
                    && samples.sum("statefun_transactions_total", app) == 3
                    && samples.values("statefun_consumer_lag", requests) == [0, 0, 0, 0]
            }
            #expect(samples.sum("statefun_records_out_total", app.merging(["topic": bank.responsesTopic]) { $1 }) == 5,
                    "two openings and three transfers answered")
            #expect(samples.sum("statefun_dead_letters_total", app.merging(["reason": "undecodable"]) { $1 }) == 1)
            #expect(samples.sum("statefun_transactions_total", app.merging(["outcome": "committed"]) { $1 }) == 2)
            #expect(samples.sum("statefun_transactions_total", app.merging(["outcome": "failed"]) { $1 }) == 1)
            #expect(samples.sum("statefun_recovery_seconds_count", app) == 4, "each partition recovered once")
            #expect(samples.sum("statefun_epoch_inputs_sum", app) >= 6, "every input record, and the messages between functions")
            #expect(samples.sum("statefun_checkpoint_write_seconds_count", app) >= 1)
            #expect(samples.sum("statefun_output_release_seconds_count", app) >= 1)
            #expect(samples.sum("statefun_deadlocks_total", app) == 0)
            let buckets = samples.filter { $0.name == "statefun_checkpoint_write_seconds_bucket" && $0.labels["le"] == "+Inf" }
            #expect(buckets.reduce(0) { $0 + $1.value } == samples.sum("statefun_checkpoint_write_seconds_count", app),
                    "histograms have buckets")

            await worker.terminate()
            #expect(worker.process.terminationStatus == 0, "SIGTERM stops the worker and its endpoint cleanly")
            try await bank.close()
        }

        static func scrape(port: Int) async throws -> [MetricSample] {
            let (data, response) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/metrics")!)
            #expect((response as? HTTPURLResponse)?.statusCode == 200)
            return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap(MetricSample.init(line:))
        }
    }
}

extension WorkerProcess {
    /// The port the worker's metrics endpoint listens on, once its log says.
    var metricsPort: Int? {
        guard let line = log.split(separator: "\n").first(where: { $0.contains("metrics endpoint listening") }),
              let range = line.range(of: "statefun.port=") else { return nil }
        return Int(line[range.upperBound...].prefix { $0.isNumber })
    }
}
