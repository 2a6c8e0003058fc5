import ArgumentParser
import Foundation
import Kafka
import Logging
import MetricsEndpoint
import StatefulFunctions
import Synchronization
import YCSB

/// The YCSB-T driver: loads accounts, then offers a mix of reads, updates and transfers at a
/// fixed rate, measures each request from produced to answered, and checks the outcome.
@main
struct Driver: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ycsb-driver",
        abstract: "Load YCSB accounts and run a YCSB-T workload against a worker of the ycsb application."
    )

    @Option(help: "Kafka bootstrap servers.") var bootstrap = "127.0.0.1:9092"
    @Option(name: .customLong("kafka"), help: "A librdkafka property for every client of the driver, as name=value (repeatable).",
            transform: { try KafkaPropertyAssignment(parsing: $0) })
    var kafkaProperties: [KafkaPropertyAssignment] = []
    @Option(help: "The requests topic.") var requestsTopic = YCSB.requestsTopic
    @Option(help: "The responses topic.") var responsesTopic = YCSB.responsesTopic
    @Option(help: "Accounts (records) to load and use.") var records = 10_000
    @Flag(help: "Use the accounts of an earlier load (the balance check is then skipped).") var skipLoad = false
    @Option(help: "Percent of reads.") var read = 25
    @Option(help: "Percent of updates.") var update = 25
    @Option(help: "Percent of transfers.") var transfer = 50
    @Option(help: "Key distribution: uniform or zipfian.") var distribution = "uniform"
    @Option(help: "Skew of the zipfian distribution.") var theta = 0.99
    @Option(help: "Transfer protocol: 2pc or saga.") var `protocol` = "2pc"
    @Option(help: "Percent of transfers to an account that does not exist: the deposit fails (404) and a saga compensates its withdrawal.")
    var refused = 0
    @Option(help: "Requests per second offered in the run phase.") var rate = 1_000
    @Option(help: "Seconds of the run phase.") var seconds = 30
    @Flag(help: "Search for the maximum sustainable throughput: steps from --rate up by --search-step.") var search = false
    @Option(help: "Search: requests/s added per step.") var searchStep = 500
    @Option(help: "Search: seconds per step.") var stepSeconds = 10
    @Option(help: "Search: a step whose p99 exceeds this many milliseconds is not sustained.") var maxP99: Double = 1_000
    @Option(help: "Directory for results.json, the CSV and the SVG chart.") var output = "ycsb-results"
    @Option(help: ArgumentHelp("Milliseconds between the ticks of the schedule: the requests due within a tick are produced together at its start.",
                               discussion: "Default: by --rate (by each step's rate in a search), 10 up to 8,000 requests/s, then 1 per 800/s up to 10,000/s (12), then 1 per 600/s, at most 20. 1 spaces requests evenly."))
    var tick: Int?
    @Option(help: "Milliseconds requests wait in the producer to fill a batch (linger.ms of the requests producer).") var linger = 1
    @Option(help: "Serve Prometheus metrics on this port, at /metrics: requests, responses by status, latencies (off unless given).")
    var metricsPort: Int?

    /// A tick's requests make one batch: the local broker's fetch pays per batch (and more for
    /// every batch it already holds), so the tick bounds the batches per second. Even at
    /// 1,000/s a tick under 10 ms costs more than it saves: twice the batches leave the broker
    /// short of CPU within a 30 s run. Above 8,000/s the tick grows with the rate; above
    /// 10,000/s (one worker, its broker and the driver then fill two cores) it grows faster,
    /// because the CPU a batch costs the broker is taken from the engine (the figures are in
    /// local-broker.md). The peer engine's own client sends in ticks of about 10 ms too.
    static func tick(forRate rate: Int) -> Int { rate <= 10_000 ? max(10, rate / 800) : min(20, rate / 600) }

    func validate() throws {
        guard read + update + transfer == 100, read >= 0, update >= 0, transfer >= 0 else {
            throw ValidationError("--read, --update and --transfer must add up to 100")
        }
        guard KeyChooser.Distribution(rawValue: distribution) != nil else { throw ValidationError("unknown distribution \(distribution)") }
        guard ["2pc", "saga"].contains(`protocol`) else { throw ValidationError("--protocol is 2pc or saga") }
        guard (0...100).contains(refused) else { throw ValidationError("--refused is a percentage") }
        guard records >= 2, rate > 0, seconds > 0 else { throw ValidationError("--records >= 2, --rate and --seconds > 0") }
        guard linger >= 0 else { throw ValidationError("--linger must be at least 0, got \(linger)") }
        if let tick, tick < 1 { throw ValidationError("--tick must be at least 1, got \(tick)") }
        if let metricsPort, !(0...65_535).contains(metricsPort) {
            throw ValidationError("--metrics-port must be a port number, got \(metricsPort)")
        }
    }

    func run() async throws {
        let runID = String(UUID().uuidString.prefix(8)).lowercased()
        let kafka = KafkaSettings(bootstrap: bootstrap, properties: KafkaPropertyAssignment.properties(kafkaProperties))
        // Before the first metric is made.
        let metrics = metricsPort.map { port in
            let endpoint = MetricsEndpoint.bootstrap(port: port, logger: Logger(label: "ycsb-driver"))
            return Task { try await endpoint.run() }
        }
        defer { metrics?.cancel() }
        let tracker = try await ResponseTracker.start(kafka, topic: responsesTopic)
        let producer = try KafkaProducer(configuration: kafka.producer(lingerMilliseconds: linger))
        let client = Client(producer: producer, tracker: tracker, topic: requestsTopic, kafka: kafka)
        let keys = (0..<records).map { "user\($0)" }

        if !skipLoad { try await load(keys, client: client, runID: runID) }

        let workload = Workload(keys: keys, read: read, update: update, chooser: KeyChooser(
            count: records, distribution: KeyChooser.Distribution(rawValue: distribution)!, theta: theta), protocol: `protocol`,
                                refused: refused)
        let description = "\(`protocol`), \(distribution) keys, \(records) accounts, \(read)/\(update)/\(transfer) read/update/transfer"
        let requestIDs: [String]
        let missing: Int
        var summary: Summary
        if search {
            let search = StepSearch(client: client, tracker: tracker, workload: workload, runID: runID, startRate: rate,
                                    increment: searchStep, stepSeconds: stepSeconds, maxP99Milliseconds: maxP99, tick: tick)
            let (steps, ids) = try await search.run()
            requestIDs = ids
            missing = try await client.waitForAnswers(requestIDs, quietSeconds: 60)
            summary = Summary(configuration: self, steps: steps)
            try summary.writeChart(StepSearch.chart(steps, title: "YCSB-T step-up search: \(description)"), to: output)
        } else {
            tracker.withState { $0.resetMeasurements() }
            progress("run: \(rate) requests/s for \(seconds) s, \(description)")
            let progress = try await RunPhase(client: client, tracker: tracker, workload: workload, runID: runID, rate: rate,
                                              seconds: seconds, tick: tick).run()
            requestIDs = progress.requestIDs
            missing = try await client.waitForAnswers(requestIDs, quietSeconds: 60)
            summary = Summary(configuration: self, progress: progress, latency: tracker.withState(\.total))
            try summary.writeChart(RunPhase.chart(progress.rows, title: "YCSB-T latency over time: \(description)"), to: output)
            try summary.writeProgress(progress.rows, to: output)
        }

        let (balances, unread) = skipLoad ? (nil, 0) : try await readBack(keys, client: client, tracker: tracker, runID: runID)
        summary.check(requestIDs, tracker: tracker, missing: missing, balances: balances, unreadAccounts: unread,
                      expectedTotal: records * YCSB.defaultBalance)
        summary.print()
        try summary.write(to: output)
        await tracker.close()
        try await producer.shutdown()
        if !summary.checksPass { throw ExitCode(1) }
    }

    /// Inserts the accounts and waits until every insert is answered.
    private func load(_ keys: [String], client: Client, runID: String) async throws {
        progress("load: inserting \(records) accounts of balance \(YCSB.defaultBalance) with ten fields each")
        let started = ContinuousClock.now
        var generator = SplitMix64()
        let inserts = keys.map {
            YCSB.Request(request_id: "\(runID)-load-\($0)", op: "insert", key: $0, fields: Self.fields(using: &generator))
        }
        try await client.send(inserts)
        let missing = try await client.waitForAnswers(inserts.map(\.request_id), quietSeconds: 120)
        guard missing == 0 else { throw ValidationError("load: \(missing) inserts not answered (no answer came for 120 s)") }
        progress(String(format: "load: done in %.1f s", (ContinuousClock.now - started).seconds))
    }

    /// Reads every account back: the balances that answered, and how many did not.
    private func readBack(_ keys: [String], client: Client, tracker: ResponseTracker, runID: String) async throws
        -> (balances: [Int]?, unread: Int) {
        let reads = keys.map { YCSB.Request(request_id: "\(runID)-check-\($0)", op: "read", key: $0) }
        try await client.send(reads)
        let unread = try await client.waitForAnswers(reads.map(\.request_id), quietSeconds: 120)
        return (tracker.withState { state in reads.compactMap { state.answers[$0.request_id]?.record?.balance } }, unread)
    }

    /// Ten fields of 100 random letters, as YCSB's default record.
    static func fields(using generator: inout some RandomNumberGenerator) -> [String: String] {
        let letters = Array("abcdefghijklmnopqrstuvwxyz")
        return Dictionary(uniqueKeysWithValues: (0..<10).map { index in
            ("field\(index)", String((0..<100).map { _ in letters.randomElement(using: &generator)! }))
        })
    }
}

/// Produces requests with the contract's keys and notes when each was sent. Requests the
/// broker did not confirm are kept, and re-sent if it turns out that the broker lost them.
final class Client: Sendable {
    private let producer: KafkaProducer
    let tracker: ResponseTracker
    let topic: String
    let kafka: KafkaSettings
    private let pending = Mutex<[(YCSB.Request, PendingDelivery)]>([])
    private let unconfirmed = Mutex<[String: YCSB.Request]>([:])

    init(producer: KafkaProducer, tracker: ResponseTracker, topic: String, kafka: KafkaSettings) {
        self.producer = producer
        self.tracker = tracker
        self.topic = topic
        self.kafka = kafka
    }

    func send(_ requests: [YCSB.Request]) async throws {
        for request in requests { try await enqueue(request) }
        await confirm()
    }

    func enqueue(_ request: YCSB.Request) async throws {
        // The record carries the time it is produced, the start of its server-side latency.
        let timestamp = Int64((Date().timeIntervalSince1970 * 1_000).rounded())
        tracker.sent(request.request_id, timestamp: timestamp)
        let record = ProducerRecord(topic: topic, key: Array(request.recordKey.utf8), value: try Message(json: request).payload,
                                    timestamp: timestamp)
        let delivery = try await producer.produce([record])
        pending.withLock { $0.append((request, delivery)) }
    }

    /// Waits until the broker has acknowledged what was sent. A request it did not confirm is
    /// reported and kept for `waitForAnswers`; the run goes on.
    func confirm() async {
        let sent = pending.withLock { pending in
            defer { pending = [] }
            return pending
        }
        for (request, delivery) in sent {
            do {
                try await delivery.acknowledged()
            } catch {
                progress("request \(request.request_id) not confirmed by the broker: \(error)")
                unconfirmed.withLock { $0[request.request_id] = request }
            }
        }
    }

    /// Waits for the answers to `ids` until none has come for `quietSeconds`; returns how many
    /// are missing. An unanswered request the broker did not confirm and does not have (it
    /// can lose records it acknowledged, see KafkaProducer) is sent again, up to three times.
    func waitForAnswers(_ ids: [String], quietSeconds: Double) async throws -> Int {
        for _ in 0..<3 {
            let missing = await tracker.waitForAnswers(ids, quietSeconds: quietSeconds)
            var suspects = unconfirmed.withLock { unconfirmed in
                tracker.withState { state in unconfirmed.values.filter { state.answers[$0.request_id] == nil } }
            }
            if !suspects.isEmpty {
                let wanted = Set(ids)
                suspects.removeAll { !wanted.contains($0.request_id) }
            }
            guard missing > 0, !suspects.isEmpty else { return missing }
            let lost = try await RequestsTopic(topic, kafka: kafka).lacking(suspects)
            guard !lost.isEmpty else { return missing }
            progress("sending again \(lost.count) requests the broker lost: \(lost.map(\.request_id))")
            unconfirmed.withLock { unconfirmed in for request in lost { unconfirmed[request.request_id] = nil } }
            for request in lost { try await enqueue(request) }
            await confirm()
        }
        return await tracker.waitForAnswers(ids, quietSeconds: quietSeconds)
    }
}

/// The requests of the run phase.
struct Workload {
    let keys: [String]
    let read: Int
    let update: Int
    let chooser: KeyChooser
    let `protocol`: String
    /// Percent of transfers to an account that does not exist.
    let refused: Int

    func request(_ id: String, using generator: inout some RandomNumberGenerator) -> YCSB.Request {
        let dice = Int.random(in: 0..<100, using: &generator)
        let key = keys[chooser.next(using: &generator)]
        if dice < read { return YCSB.Request(request_id: id, op: "read", key: key) }
        if dice < read + update {
            let field = "field\(Int.random(in: 0..<10, using: &generator))"
            return YCSB.Request(request_id: id, op: "update", key: key, fields: [field: String(repeating: "u", count: 100)])
        }
        var to = keys[chooser.next(using: &generator)]
        while to == key { to = keys[Int.random(in: 0..<keys.count, using: &generator)] }
        // The deposit fails after the withdrawal went through: a saga compensates it, 2PC aborts.
        if Int.random(in: 0..<100, using: &generator) < refused { to = "closed-\(to)" }
        return YCSB.Request(request_id: id, op: "transfer", from: key, to: to, amount: Int.random(in: 1...100, using: &generator),
                            protocol: `protocol`)
    }
}

/// Writes a line of live progress at once. `print` keeps its output in a buffer until exit
/// when the output is a file or a pipe; progress must show while the run goes on.
func progress(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
