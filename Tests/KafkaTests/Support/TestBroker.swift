import Foundation
import Kafka
import Testing

/// The broker the integration tests use: `KAFKA_BOOTSTRAP`, set by `scripts/test.sh`
/// (default 127.0.0.1:9092, where `scripts/broker.sh start` puts it).
enum TestBroker {
    static let bootstrap = ProcessInfo.processInfo.environment["KAFKA_BOOTSTRAP"] ?? "127.0.0.1:9092"

    static func uniqueTopic(_ prefix: String = "test") -> String {
        "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
    }

    static func admin() throws -> KafkaAdmin {
        var configuration = KafkaAdminConfiguration(bootstrapServers: bootstrap)
        configuration.requestTimeoutMilliseconds = 5_000
        return try KafkaAdmin(configuration: configuration)
    }

    static func createTopic(partitions: Int, prefix: String = "test") async throws -> String {
        let topic = uniqueTopic(prefix)
        do {
            try await admin().createTopic(topic, partitions: partitions)
        } catch {
            Issue.record("no broker at \(bootstrap)? Run scripts/test.sh, or scripts/broker.sh start. \(error)")
            throw error
        }
        return topic
    }

    static func producer() throws -> KafkaProducer {
        var configuration = KafkaProducerConfiguration(bootstrapServers: bootstrap)
        configuration.lingerMilliseconds = 1
        return try KafkaProducer(configuration: configuration)
    }

    static func consumer(group: String? = nil) throws -> KafkaConsumer {
        try KafkaConsumer(configuration: KafkaConsumerConfiguration(bootstrapServers: bootstrap, groupID: group))
    }
}

struct TimedOut: Error, CustomStringConvertible {
    let what: String
    var description: String { "timed out waiting for \(what)" }
}

/// Runs `body`, failing with `TimedOut` if it has not finished after `seconds`.
func within<T: Sendable>(
    _ seconds: Double, _ what: String, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else { throw TimedOut(what: what) }
        return value
    }
}

/// Reads records from `consumer` until `count` have arrived (or `seconds` passed).
func collectRecords(_ consumer: KafkaConsumer, count: Int, seconds: Double = 30) async throws -> [ConsumerRecord] {
    try await within(seconds, "\(count) records") {
        var records: [ConsumerRecord] = []
        for await event in consumer.events {
            if case .records(let batch) = event { records += batch }
            if records.count >= count { break }
        }
        return records
    }
}

extension Array where Element == UInt8 {
    var text: String { String(decoding: self, as: UTF8.self) }
}
