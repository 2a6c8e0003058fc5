import ArgumentParser
import Foundation
import Kafka
import Logging
import Metrics
import StatefulFunctions
import Synchronization
import Worker

/// Kafka in to Kafka out: a stateful counter on the engine (exactly-once, checkpointed)
/// against a plain consume-then-produce echo with the same client settings, on the same broker
/// in the same run. Then recovery: a worker restarting over many addresses of state.
@main
struct WorkerThroughput: AsyncParsableCommand {
    static let configuration = CommandConfiguration(subcommands: [Pipeline.self, Recovery.self, Remote.self, MetricsOverhead.self])
}

struct Common: ParsableArguments {
    @Option(help: "Broker address.") var bootstrap = "127.0.0.1:9092"
    @Option(help: "Key partitions / topic partitions.") var partitions = 4
}

enum Bench {
    static let counter: TypeName = "bench/counter"
    static let count = ValueSpec<Int>("count")
    static let blob = ValueSpec<[UInt8]>("blob", codec: .bytes)

    /// Counts per key and echoes the payload to the egress topic.
    static func counterApplication(input: String, output: String) -> Application {
        var app = Application(name: "bench")
        app.bind(counter, states: [count, blob]) { context, message in
            try context.set(count, (try context.get(count) ?? 0) + 1)
            if message.payload.count >= 400 { try context.set(blob, message.payload) }
            context.egress(EgressRecord(topic: output, key: Array(context.address.id.utf8), value: message.payload))
        }
        app.ingress(IngressBinding(topic: input, type: counter, codec: .raw))
        return app
    }

    /// A worker running the counter between two fresh topics; its metrics go to `metrics` (nil:
    /// the process's backend).
    static func startCounter(common: Common, admin: KafkaAdmin, name: String, checkpointInterval: Int,
                             metrics: (any MetricsFactory)? = nil) async throws
        -> (input: String, output: String, task: Task<Void, any Error>) {
        let input = "count-in-\(name)", output = "count-out-\(name)"
        for topic in [input, output] { try await admin.createTopic(topic, partitions: common.partitions) }
        var configuration = WorkerConfiguration(bootstrapServers: common.bootstrap, applicationID: "bench-\(name)")
        configuration.partitions = common.partitions
        configuration.checkpointIntervalMilliseconds = checkpointInterval
        configuration.outputLingerMilliseconds = EchoPipeline.lingerMilliseconds  // the same client settings
        configuration.metricsFactory = metrics
        let worker = Worker(application: counterApplication(input: input, output: output),
                            configuration: configuration, logger: quietLogger())
        return (input, output, Task { try await worker.run() })
    }

    static func quietLogger() -> Logger {
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        return logger
    }

    static func nanos() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// A payload of `size` bytes that starts with its send time and the round it belongs to.
    static func payload(size: Int = 100, round: Int = 0) -> [UInt8] {
        var bytes = Array("\(nanos()) \(round) ".utf8)
        bytes += [UInt8](repeating: UInt8(ascii: "."), count: max(0, size - bytes.count))
        return bytes
    }

    /// Send time and round of a payload.
    static func stamp(_ payload: [UInt8]) -> (sentAt: UInt64, round: Int)? {
        let fields = payload.split(separator: UInt8(ascii: " "), maxSplits: 2)
        guard fields.count >= 2, let sent = UInt64(String(decoding: fields[0], as: UTF8.self)),
              let round = Int(String(decoding: fields[1], as: UTF8.self)) else { return nil }
        return (sent, round)
    }

    static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
    }
}

/// Reads an output topic from the start, counting the records of one round and their latencies.
final class OutputMeter: Sendable {
    private let consumer: KafkaConsumer
    private final class Tally: Sendable {
        let state = Mutex<(count: Int, latencies: [Double])>((0, []))
    }

    private let tally = Tally()
    private let task: Task<Void, Never>

    /// Reads from `start` offsets (by partition); records of other rounds are skipped anyway.
    private init(bootstrap: String, topic: String, start: [Int64], round: Int) throws {
        consumer = try KafkaConsumer(configuration: KafkaConsumerConfiguration(bootstrapServers: bootstrap))
        try consumer.assign(start.enumerated().map { TopicPartitionOffset(topic, Int32($0.offset), offset: $0.element) })
        let consumer = consumer, tally = tally
        task = Task {
            for await event in consumer.events {
                guard case .records(let records) = event else { continue }
                let now = Bench.nanos()
                let stamps = records.compactMap { $0.value.flatMap(Bench.stamp) }.filter { $0.round == round }
                let latencies = stamps.map { Double(now - min(now, $0.sentAt)) / 1e6 }
                tally.state.withLock { $0.count += stamps.count; $0.latencies += latencies }
            }
        }
    }

    /// A meter reading from about the current end of the topic, so earlier rounds are not read again.
    static func start(bootstrap: String, topic: String, partitions: Int, round: Int = 0) async throws -> OutputMeter {
        let probe = try KafkaConsumer(configuration: KafkaConsumerConfiguration(bootstrapServers: bootstrap))
        var start: [Int64] = []
        for partition in 0..<partitions {
            start.append((try? await probe.watermarks(TopicPartition(topic, Int32(partition))).high) ?? TopicPartitionOffset.beginning)
        }
        await probe.close()
        return try OutputMeter(bootstrap: bootstrap, topic: topic, start: start, round: round)
    }

    var count: Int { tally.state.withLock { $0.count } }
    var latencies: [Double] { tally.state.withLock { $0.latencies } }

    func reset() { tally.state.withLock { $0 = (0, []) } }

    func wait(for count: Int, seconds: Double) async throws {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while self.count < count {
            guard ContinuousClock.now < deadline else { throw ValidationError("only \(self.count) of \(count) outputs") }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    func close() async {
        await consumer.close()
        task.cancel()
    }
}

/// The baseline: consume, produce, nothing else, between two fresh topics.
struct EchoPipeline {
    let input: String
    let output: String
    private let consumer: KafkaConsumer
    private let producer: KafkaProducer
    private let task: Task<Void, Never>
    static let lingerMilliseconds = 1

    static func start(admin: KafkaAdmin, bootstrap: String, partitions: Int, name: String) async throws -> EchoPipeline {
        let input = "echo-in-\(name)", output = "echo-out-\(name)"
        for topic in [input, output] { try await admin.createTopic(topic, partitions: partitions) }
        let consumer = try KafkaConsumer(configuration: KafkaConsumerConfiguration(bootstrapServers: bootstrap))
        try consumer.assign((0..<partitions).map { TopicPartitionOffset(input, Int32($0), offset: TopicPartitionOffset.beginning) })
        var producerConfiguration = KafkaProducerConfiguration(bootstrapServers: bootstrap)
        producerConfiguration.lingerMilliseconds = lingerMilliseconds
        let producer = try KafkaProducer(configuration: producerConfiguration)
        let task = Task {
            for await event in consumer.events {
                guard case .records(let batch) = event else { continue }
                for record in batch {
                    try? await producer.enqueue(ProducerRecord(topic: output, key: record.key, value: record.value))
                }
            }
        }
        return EchoPipeline(input: input, output: output, consumer: consumer, producer: producer, task: task)
    }

    func stop() async {
        task.cancel()
        await consumer.close()
        try? await producer.shutdown()
    }
}

struct Pipeline: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Stateful counter against a plain Kafka echo.")
    @OptionGroup var common: Common
    @OptionGroup var loadOptions: LoadOptions
    @Option(help: "Checkpoint interval of the engine, ms.") var checkpointInterval = 5
    @Option(help: "Rounds, each on fresh topics (medians reported).") var rounds = 3

    func run() async throws {
        let run = UUID().uuidString.prefix(6).lowercased()
        let admin = try KafkaAdmin(configuration: .init(bootstrapServers: common.bootstrap))
        // The local broker's fetch lists every batch a partition ever held, so its latency grows
        // with the topics' history. Each round therefore runs both pipelines on fresh topics, and
        // swaps which goes first: the paced latency run, then the burst for throughput.
        func order(_ round: Int) -> [Bool] { round % 2 == 1 ? [true, false] : [false, true] }
        var echoResults: [Result] = [], engineResults: [Result] = []
        for round in 1...rounds {
            let echo = try await EchoPipeline.start(admin: admin, bootstrap: common.bootstrap, partitions: common.partitions,
                                                    name: "\(run)-\(round)")
            let engine = try await Bench.startCounter(common: common, admin: admin, name: "\(run)-\(round)",
                                                      checkpointInterval: checkpointInterval)
            // By pipeline: true for the echo, false for the engine.
            let topics = [true: (input: echo.input, output: echo.output), false: (input: engine.input, output: engine.output)]
            var results: [Bool: Result] = [:]
            for isEcho in order(round) {
                results[isEcho] = try await load.measureLatency(input: topics[isEcho]!.input, output: topics[isEcho]!.output, round: round)
            }
            for isEcho in order(round) {
                results[isEcho]!.throughput = try await load.measureThroughput(input: topics[isEcho]!.input, output: topics[isEcho]!.output,
                                                                           round: rounds + round)
            }
            await echo.stop()
            engine.task.cancel()
            try? await engine.task.value
            echoResults.append(results[true]!)
            engineResults.append(results[false]!)
            print(String(format: "round %d (%@ first): echo p99 %.1f ms, %.0f/s | counter p99 %.1f ms, %.0f/s", round,
                         order(round)[0] ? "echo" : "counter", results[true]!.p99, results[true]!.throughput,
                         results[false]!.p99, results[false]!.throughput))
        }
        let echoResult = Result.median(echoResults), engineResult = Result.median(engineResults)

        print("")
        print("Medians of \(rounds) rounds:")
        print("| pipeline | throughput (records/s) | p50 (ms) | p99 (ms) | max (ms) |")
        print("|---|---|---|---|---|")
        for (name, result) in [("plain Kafka echo (baseline)", echoResult), ("stateful counter, exactly-once", engineResult)] {
            print(String(format: "| %@ | %.0f | %.1f | %.1f | %.1f |", name, result.throughput, result.p50, result.p99, result.max))
        }
        print(String(format: "throughput ratio %.2f (target >= 0.50); p99 %.1f ms vs echo p99 + one checkpoint interval = %.1f ms",
                     engineResult.throughput / echoResult.throughput, engineResult.p99, echoResult.p99 + Double(checkpointInterval)))
    }

    struct Result {
        var throughput: Double
        var p50: Double
        var p99: Double
        var max: Double

        /// Each figure's median over the rounds.
        static func median(_ results: [Result]) -> Result {
            func mid(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
            return Result(throughput: mid(results.map(\.throughput)), p50: mid(results.map(\.p50)),
                          p99: mid(results.map(\.p99)), max: mid(results.map(\.max)))
        }
    }

    var load: Load { loadOptions.load(common) }
}

/// The load of the counter pipelines: a paced latency run, then a burst.
struct LoadOptions: ParsableArguments {
    @Option(help: "Records for the throughput run.") var records = 100_000
    @Option(help: "Rate of the latency run, records/s.") var rate = 2_000
    @Option(help: "Seconds of the latency run.") var seconds = 5
    @Option(help: "Distinct keys.") var keys = 1_000

    func load(_ common: Common) -> Load {
        Load(bootstrap: common.bootstrap, partitions: common.partitions, keys: keys, rate: rate, seconds: seconds, records: records)
    }
}

/// Records in, outputs counted: latency at a steady rate, throughput of a burst.
struct Load {
    let bootstrap: String
    let partitions: Int
    let keys: Int
    let rate: Int
    let seconds: Int
    let records: Int

    /// Produce-to-consume latency at a steady `rate`; throughput is filled in by `measureThroughput`.
    func measureLatency(input: String, output: String, round: Int) async throws -> Pipeline.Result {
        let (meter, producer) = try await start(input: input, output: output, round: round)
        let total = rate * seconds
        let interval = Duration.seconds(1) / rate
        let pacedStart = ContinuousClock.now
        for index in 0..<total {
            try await Task.sleep(until: pacedStart + interval * index, clock: .continuous)
            try await producer.enqueue(ProducerRecord(topic: input, key: Array("k\(index % keys)".utf8), value: Bench.payload(round: round)))
        }
        try await producer.flush()
        try await meter.wait(for: total, seconds: 120)
        let sorted = meter.latencies.sorted()
        try await producer.shutdown()
        await meter.close()
        return Pipeline.Result(throughput: 0, p50: Bench.percentile(sorted, 0.5), p99: Bench.percentile(sorted, 0.99), max: sorted.last ?? 0)
    }

    /// Records per second for a burst of `records` produced as fast as possible.
    func measureThroughput(input: String, output: String, round: Int) async throws -> Double {
        let (meter, producer) = try await start(input: input, output: output, round: round)
        let started = ContinuousClock.now
        for index in 0..<records {
            try await producer.enqueue(ProducerRecord(topic: input, key: Array("k\(index % keys)".utf8), value: Bench.payload(round: round)))
        }
        try await producer.flush()
        try await meter.wait(for: records, seconds: 300)
        let elapsed = ContinuousClock.now - started
        try await producer.shutdown()
        await meter.close()
        return Double(records) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }

    /// A meter on `output` and a producer to `input`, after one record went through every
    /// partition: the first records wait for the group join and recovery, and the first record
    /// of a partition new to the local broker can wait about half a second more.
    func start(input: String, output: String, round: Int) async throws -> (OutputMeter, KafkaProducer) {
        let meter = try await OutputMeter.start(bootstrap: bootstrap, topic: output, partitions: partitions, round: round)
        var producerConfiguration = KafkaProducerConfiguration(bootstrapServers: bootstrap)
        producerConfiguration.lingerMilliseconds = 1
        let producer = try KafkaProducer(configuration: producerConfiguration)
        let warmKeys = (0..<partitions).map { partition in
            (0...).lazy.map { "warm\($0)" }.first { Murmur2Partitioner.partition(forKey: $0, partitionCount: partitions) == partition }!
        }
        for key in warmKeys {
            try await producer.send(ProducerRecord(topic: input, key: Array(key.utf8), value: Bench.payload(round: round)))
        }
        try await meter.wait(for: warmKeys.count, seconds: 60)
        meter.reset()
        return (meter, producer)
    }
}

struct Recovery: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Time for a worker to resume over many addresses of state.")
    @OptionGroup var common: Common
    @Option(help: "Addresses with state.") var addresses = 100_000
    @Option(help: "Bytes of state per address.") var stateBytes = 400

    func run() async throws {
        let run = UUID().uuidString.prefix(6).lowercased()
        let input = "recovery-in-\(run)", output = "recovery-out-\(run)"
        let admin = try KafkaAdmin(configuration: .init(bootstrapServers: common.bootstrap))
        try await admin.createTopic(input, partitions: common.partitions)
        try await admin.createTopic(output, partitions: common.partitions)
        var configuration = WorkerConfiguration(bootstrapServers: common.bootstrap, applicationID: "recovery-\(run)")
        configuration.partitions = common.partitions
        configuration.kafkaProperties["session.timeout.ms"] = "3000"
        let application = Bench.counterApplication(input: input, output: output)
        let meter = try await OutputMeter.start(bootstrap: common.bootstrap, topic: output, partitions: common.partitions)

        // Load: one record of `stateBytes` per address.
        let loader = Worker(application: application, configuration: configuration, logger: Bench.quietLogger())
        let loading = Task { try await loader.run() }
        var producerConfiguration = KafkaProducerConfiguration(bootstrapServers: common.bootstrap)
        producerConfiguration.lingerMilliseconds = 5
        let producer = try KafkaProducer(configuration: producerConfiguration)
        for index in 0..<addresses {
            try await producer.enqueue(ProducerRecord(topic: input, key: Array("a\(index)".utf8), value: Bench.payload(size: stateBytes)))
        }
        try await producer.flush()
        try await meter.wait(for: addresses, seconds: 600)
        loading.cancel()
        try? await loading.value
        print("loaded \(addresses) addresses of \(stateBytes) bytes; worker stopped")

        // Restart and time until a new record comes out.
        let started = ContinuousClock.now
        let restarted = Worker(application: application, configuration: configuration, logger: Bench.quietLogger())
        let running = Task { try await restarted.run() }
        try await producer.send(ProducerRecord(topic: input, key: Array("a0".utf8), value: Bench.payload()))
        try await meter.wait(for: addresses + 1, seconds: 120)
        let elapsed = ContinuousClock.now - started
        print("| recovery | addresses | state per address | worker start to first output |")
        print("|---|---|---|---|")
        print("| restart | \(addresses) | \(stateBytes) B | \(elapsed.formatted(.units(allowed: [.seconds, .milliseconds]))) |")
        running.cancel()
        try? await running.value
        try await producer.shutdown()
        await meter.close()
    }
}
