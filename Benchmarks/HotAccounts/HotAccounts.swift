import ArgumentParser
import Bank
import Foundation
import Kafka
import Logging
import StatefulFunctions
import Synchronization
import Worker
import YCSB

/// The hot-key workload of deadlock detection: few accounts, mostly 2PC transfers between
/// random pairs, offered at a fixed rate to a worker in this process. Reports deadlocks per
/// 1,000 transfers and the detection latency (from the wait that closed a cycle to its victim's
/// abort), next to the latency of the transfers themselves in the same run.
@main
struct HotAccounts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Deadlocks and their detection latency under hot-key 2PC transfers.")

    @Option(help: "Broker address.") var bootstrap = "127.0.0.1:9092"
    @Option(help: "Key partitions.") var partitions = 4
    @Option(help: "Accounts.") var accounts = 100
    @Option(help: "Percent of requests that are transfers (the others read a balance).") var transfers = 75
    @Option(help: "Requests per second offered.") var rate = 450
    @Option(help: "Seconds of load.") var seconds = 60
    @Option(help: "Milliseconds between two wait reports of a partition.") var detectionInterval: Int64 = 20

    func run() async throws {
        let id = "hot-\(UUID().uuidString.prefix(6).lowercased())"
        let requests = "\(id)-requests", responses = "\(id)-responses"
        let admin = try KafkaAdmin(configuration: .init(bootstrapServers: bootstrap))
        try await admin.createTopic(requests, partitions: partitions)
        try await admin.createTopic(responses, partitions: 1)

        var configuration = WorkerConfiguration(bootstrapServers: bootstrap, applicationID: id)
        configuration.partitions = partitions
        configuration.deadlockDetectionIntervalMilliseconds = detectionInterval
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let worker = Worker(application: Bank.application(requestsTopic: requests, responsesTopic: responses),
                            configuration: configuration, logger: logger)
        let workerTask = Task { try await worker.run() }
        let answers = try AnswerReader(bootstrap: bootstrap, topic: responses)
        var producerConfiguration = KafkaProducerConfiguration(bootstrapServers: bootstrap)
        producerConfiguration.lingerMilliseconds = 1
        let producer = try KafkaProducer(configuration: producerConfiguration)
        func send(_ request: Bank.Request) async throws {
            let key = request.op == "transfer" ? request.request_id : request.account!
            try await producer.enqueue(ProducerRecord(topic: requests, key: Array(key.utf8), value: try Message(json: request).payload))
        }

        let names = (0..<accounts).map { "acct\($0)" }
        for name in names { try await send(Bank.Request(request_id: "open-\(name)", op: "open", account: name, amount: 1_000_000_000)) }
        try await producer.flush()
        try await answers.wait(for: accounts, seconds: 60)

        // Load: a fixed rate of requests, timed from the schedule so a stall does not lower it.
        var generator = SplitMix64()
        let total = rate * seconds
        let start = ContinuousClock.now
        var isTransfer: [String: Bool] = [:]
        for index in 0..<total {
            let due = start + .nanoseconds(Int64(index) * 1_000_000_000 / Int64(rate))
            if due > ContinuousClock.now { try await Task.sleep(until: due) }
            let requestID = "r\(index)"
            let request: Bank.Request
            if Int.random(in: 0..<100, using: &generator) < transfers {
                let from = names.randomElement(using: &generator)!
                let to = names.filter { $0 != from }.randomElement(using: &generator)!
                request = Bank.Request(request_id: requestID, op: "transfer", amount: 1, from: from, to: to)
            } else {
                request = Bank.Request(request_id: requestID, op: "balance", account: names.randomElement(using: &generator)!)
            }
            isTransfer[requestID] = request.op == "transfer"
            answers.sent(requestID)
            try await send(request)
        }
        try await producer.flush()
        let offered = Double(total) / (ContinuousClock.now - start).seconds
        try await answers.wait(for: accounts + total, seconds: 120)

        report(worker.transactionTotals, answers.results, isTransfer: isTransfer, offered: offered)

        await answers.close()
        try await producer.shutdown()
        workerTask.cancel()
        try? await workerTask.value
    }

    /// Prints the figures of the run: transfers by status, deadlocks and their detection
    /// latency, against the latency of the committed transfers.
    func report(_ totals: TransactionTotals, _ results: [String: AnswerReader.Answer], isTransfer: [String: Bool], offered: Double) {
        let statistics = totals.counts
        let transferResults = results.filter { isTransfer[$0.key] == true }.map(\.value)
        let statuses = Dictionary(grouping: transferResults, by: \.status).mapValues(\.count)
        let transferLatencies = transferResults.filter { $0.status == 200 }.map(\.milliseconds).sorted()
        let detection = { (percentile: Double) in Double(totals.detectionMilliseconds.valueAtPercentile(percentile)) }
        let perThousand = Double(statistics.deadlocks) * 1_000 / Double(max(1, transferResults.count))

        print("hot accounts: \(accounts) accounts, \(transfers)% transfers (2PC), \(rate) requests/s offered (\(Int(offered)) achieved) for \(seconds) s, \(partitions) partitions")
        print("| figure | value |")
        print("|---|---|")
        print("| transfers answered | \(transferResults.count) (200: \(statuses[200, default: 0]), 422: \(statuses[422, default: 0]), 409: \(statuses[409, default: 0])) |")
        print(String(format: "| deadlocks (victims aborted) | %d, %.1f per 1,000 transfers |", statistics.deadlocks, perThousand))
        print(String(format: "| detection latency p50 / p99 / max | %.0f / %.0f / %.0f ms |",
                     detection(50), detection(99), Double(totals.detectionMilliseconds.max)))
        print(String(format: "| committed transfer latency p50 / p99 (baseline) | %.0f / %.0f ms |",
                     percentile(transferLatencies, 0.5), percentile(transferLatencies, 0.99)))
        print(String(format: "detection p99 %.0f ms: target <= 100 ms; %.2fx the median committed transfer",
                     detection(99), detection(99) / max(1, percentile(transferLatencies, 0.5))))
    }

    func percentile(_ sorted: [Double], _ p: Double) -> Double {
        sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
    }
}

/// Reads the responses topic: each request's status and its latency from when it was sent.
final class AnswerReader: Sendable {
    struct Answer: Sendable {
        var status: Int
        var milliseconds: Double
    }

    private struct State {
        var sentAt: [String: ContinuousClock.Instant] = [:]
        var results: [String: Answer] = [:]
    }

    private final class Shared: Sendable {
        let state = Mutex(State())
    }

    private let consumer: KafkaConsumer
    private let shared = Shared()
    private let task: Task<Void, Never>

    init(bootstrap: String, topic: String) throws {
        consumer = try KafkaConsumer(configuration: KafkaConsumerConfiguration(bootstrapServers: bootstrap))
        try consumer.assign([TopicPartitionOffset(topic, 0, offset: TopicPartitionOffset.beginning)])
        task = Task { [consumer, shared] in
            for await event in consumer.events {
                guard case .records(let records) = event else { continue }
                let now = ContinuousClock.now
                let responses = records.compactMap { try? Message(bytes: $0.value ?? []).decode(Bank.Response.self) }
                shared.state.withLock { state in
                    for response in responses where state.results[response.request_id] == nil {
                        let sent = state.sentAt[response.request_id] ?? now
                        state.results[response.request_id] = Answer(status: response.status, milliseconds: (now - sent).seconds * 1_000)
                    }
                }
            }
        }
    }

    func sent(_ requestID: String) { shared.state.withLock { $0.sentAt[requestID] = .now } }

    var results: [String: Answer] { shared.state.withLock { $0.results } }

    func wait(for count: Int, seconds: Double) async throws {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while shared.state.withLock({ $0.results.count }) < count {
            guard ContinuousClock.now < deadline else {
                throw ValidationError("only \(shared.state.withLock { $0.results.count }) of \(count) requests answered")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    func close() async {
        await consumer.close()
        task.cancel()
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
