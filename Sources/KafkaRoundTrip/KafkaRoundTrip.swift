import ArgumentParser
import Foundation
import Kafka
import Logging

/// A small end-to-end run of the Kafka client: create a topic, produce keyed records with
/// headers and a tombstone, read them back through a consumer group, commit, and print each step.
@main
struct KafkaRoundTrip: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kafka-roundtrip",
        abstract: "Produce records to the broker and consume them back, printing what happened."
    )

    @Option(help: "Broker address.") var bootstrap = "127.0.0.1:9092"
    @Option(help: "Records to produce.") var count = 10
    @Option(help: "Partitions of the demo topic.") var partitions = 3

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .warning
            return handler
        }
        let topic = "roundtrip-\(Int(Date().timeIntervalSince1970))"
        let admin = try KafkaAdmin(configuration: KafkaAdminConfiguration(bootstrapServers: bootstrap))
        try await admin.createTopic(topic, partitions: partitions)
        print("created topic \(topic) with \(try await admin.describeTopic(topic).partitionCount) partitions")

        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(bootstrapServers: bootstrap))
        for index in 0..<count {
            let key = "user-\(index % 4)"
            // Every fourth record is a tombstone (no value), the way a deletion is written.
            let value: String? = index % 4 == 3 ? nil : "greeting #\(index) for \(key)"
            let report = try await producer.send(ProducerRecord(
                topic: topic, key: key, value: value, headers: [KafkaHeader(key: "sequence", value: "\(index)")]))
            print("produced  key=\(key) -> partition \(report.partition) offset \(report.offset)"
                  + (value == nil ? " (tombstone)" : ""))
        }
        try await producer.shutdown()

        let group = "\(topic)-readers"
        let consumer = try KafkaConsumer(configuration: KafkaConsumerConfiguration(bootstrapServers: bootstrap, groupID: group))
        try consumer.subscribe(topics: [topic])
        var received: [ConsumerRecord] = []
        for await event in consumer.events {
            switch event {
            case .partitionsAssigned(let assigned):
                print("group \(group) assigned \(assigned.map(\.description).joined(separator: ", "))")
            case .records(let records):
                for record in records {
                    let key = record.key.map { String(decoding: $0, as: UTF8.self) } ?? "-"
                    let value = record.value.map { String(decoding: $0, as: UTF8.self) } ?? "(tombstone)"
                    let sequence = record.header("sequence").map { String(decoding: $0, as: UTF8.self) } ?? "?"
                    print("consumed  \(record.topicPartition)@\(record.offset) key=\(key) sequence=\(sequence) value=\(value)")
                }
                received += records
            case .error(let error):
                print("consumer error: \(error)")
            default:
                break
            }
            if received.count >= count { break }
        }
        let next = Dictionary(grouping: received, by: \.topicPartition)
            .map { TopicPartitionOffset($0.key, offset: $0.value.map(\.offset).max()! + 1) }
        try await consumer.commit(next)
        print("committed \(next.sorted { $0.topicPartition.partition < $1.topicPartition.partition }.map(\.description).joined(separator: ", "))")
        await consumer.close()

        let tombstones = received.filter { $0.value == nil }.count
        print("done: produced \(count), consumed \(received.count) (\(tombstones) tombstones), per-key order kept: \(keyOrderKept(received))")
        if received.count != count { throw ExitCode.failure }
    }

    private func keyOrderKept(_ records: [ConsumerRecord]) -> Bool {
        Dictionary(grouping: records) { $0.key ?? [] }.values.allSatisfy { sameKey in
            let sequences = sameKey.compactMap { $0.header("sequence").flatMap { Int(String(decoding: $0, as: UTF8.self)) } }
            return sequences == sequences.sorted()
        }
    }
}
