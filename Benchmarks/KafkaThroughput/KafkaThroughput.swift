import ArgumentParser
import Foundation
import Kafka
import Logging

/// Produces and consumes N records of S bytes through the Swift client and through kcat against
/// the same broker in the same run, with the same librdkafka settings, and prints records/s and
/// the Swift/kcat ratio. Each side runs `rounds` times, interleaved; the median is reported
/// with the spread so the machine's noise is visible.
@main
struct KafkaThroughput: AsyncParsableCommand {
    @Option(help: "Broker address.") var bootstrap = "127.0.0.1:9092"
    @Option(help: "Records per run.") var records = 1_000_000
    @Option(help: "Value size in bytes.") var size = 100
    @Option(help: "Partitions of each topic.") var partitions = 4
    @Option(help: "Runs of each side (median reported).") var rounds = 3
    @Option(help: "kcat executable.") var kcat = "kcat"
    @Option(help: "Write the results as JSON to this file.") var json: String?

    /// The producer settings both sides use.
    var producerProperties: [String: String] {
        ["linger.ms": "5", "enable.idempotence": "true", "acks": "all", "partitioner": "murmur2_random",
         "queue.buffering.max.messages": "1000000", "batch.size": "1000000"]
    }

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .warning
            return handler
        }
        let admin = try KafkaAdmin(configuration: KafkaAdminConfiguration(bootstrapServers: bootstrap))
        let lines = try makeInputFile()
        defer { try? FileManager.default.removeItem(atPath: lines) }
        print("\(records) records of \(size) bytes, \(partitions) partitions, \(rounds) rounds, broker \(bootstrap)")

        var swiftProduce: [Double] = [], kcatProduce: [Double] = [], swiftConsume: [Double] = [], kcatConsume: [Double] = []
        for round in 1...rounds {
            let swiftTopic = "bench-swift-\(UUID().uuidString.prefix(8))"
            let kcatTopic = "bench-kcat-\(UUID().uuidString.prefix(8))"
            try await admin.createTopic(swiftTopic, partitions: partitions)
            try await admin.createTopic(kcatTopic, partitions: partitions)

            swiftProduce.append(try await produceWithSwift(topic: swiftTopic))
            kcatProduce.append(try produceWithKcat(topic: kcatTopic, input: lines))
            // Each consumer reads the topic the other side produced, so both read identical data shapes.
            swiftConsume.append(try await consumeWithSwift(topic: kcatTopic))
            kcatConsume.append(try consumeWithKcat(topic: swiftTopic))
            print(String(format: "round %d: produce swift %.0f/s kcat %.0f/s | consume swift %.0f/s kcat %.0f/s",
                         round, swiftProduce.last!, kcatProduce.last!, swiftConsume.last!, kcatConsume.last!))
        }

        let produce = Comparison(name: "produce", swift: swiftProduce, kcat: kcatProduce)
        let consume = Comparison(name: "consume", swift: swiftConsume, kcat: kcatConsume)
        print("")
        print("| direction | Swift client (records/s) | kcat (records/s) | Swift / kcat |")
        print("|---|---|---|---|")
        for comparison in [produce, consume] { print(comparison.row) }
        print("(median of \(rounds) rounds; range shown as min-max)")
        if let json {
            let data = try JSONEncoder().encode(["produce": produce, "consume": consume])
            try data.write(to: URL(fileURLWithPath: json))
        }
    }

    private func makeInputFile() throws -> String {
        let path = NSTemporaryDirectory() + "kafka-throughput-\(UUID().uuidString).txt"
        let line = String(repeating: "x", count: size) + "\n"
        let chunk = String(repeating: line, count: 10_000)
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        for _ in 0..<(records / 10_000) { handle.write(Data(chunk.utf8)) }
        for _ in 0..<(records % 10_000) { handle.write(Data(line.utf8)) }
        try handle.close()
        return path
    }

    private func produceWithSwift(topic: String) async throws -> Double {
        let started = ContinuousClock.now
        var configuration = KafkaProducerConfiguration(bootstrapServers: bootstrap)
        configuration.properties = producerProperties
        let producer = try KafkaProducer(configuration: configuration)
        let value = [UInt8](repeating: UInt8(ascii: "x"), count: size)
        for _ in 0..<records {
            try await producer.enqueue(ProducerRecord(topic: topic, value: value))
        }
        try await producer.shutdown()
        return rate(since: started)
    }

    private func produceWithKcat(topic: String, input: String) throws -> Double {
        let options = producerProperties.sorted { $0.key < $1.key }.flatMap { ["-X", "\($0.key)=\($0.value)"] }
        return try timeProcess(["-P", "-b", bootstrap, "-t", topic] + options, stdin: input)
    }

    private func consumeWithSwift(topic: String) async throws -> Double {
        let started = ContinuousClock.now
        let consumer = try KafkaConsumer(configuration: KafkaConsumerConfiguration(bootstrapServers: bootstrap))
        try consumer.assign((0..<partitions).map { TopicPartitionOffset(topic, Int32($0), offset: TopicPartitionOffset.beginning) })
        var count = 0
        var bytes = 0
        for await event in consumer.events {
            guard case .records(let batch) = event else { continue }
            count += batch.count
            for record in batch { bytes += record.value?.count ?? 0 }
            if count >= records { break }
        }
        await consumer.close()
        guard count >= records, bytes >= records * size else { throw ValidationError("swift consumer read \(count) records") }
        return rate(since: started)
    }

    private func consumeWithKcat(topic: String) throws -> Double {
        try timeProcess(["-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-q"], stdin: nil)
    }

    /// Runs kcat and returns records/s over its whole lifetime (start-up and connection included,
    /// as for the Swift side).
    private func timeProcess(_ arguments: [String], stdin: String?) throws -> Double {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try resolve(kcat))
        process.arguments = arguments
        if let stdin { process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: stdin)) }
        process.standardOutput = FileHandle.nullDevice
        let started = ContinuousClock.now
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw ValidationError("kcat \(arguments.prefix(1)) failed") }
        return rate(since: started)
    }

    private func resolve(_ executable: String) throws -> String {
        if executable.contains("/") { return executable }
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let path = "\(directory)/\(executable)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw ValidationError("\(executable) not found on PATH")
    }

    private func rate(since started: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - started
        return Double(records) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }
}

struct Comparison: Encodable {
    let name: String
    let swift: [Double]
    let kcat: [Double]

    var ratio: Double { median(swift) / median(kcat) }

    var row: String {
        String(format: "| %@ | %.0f (%.0f-%.0f) | %.0f (%.0f-%.0f) | %.2f |", name,
               median(swift), swift.min()!, swift.max()!, median(kcat), kcat.min()!, kcat.max()!, ratio)
    }
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}
