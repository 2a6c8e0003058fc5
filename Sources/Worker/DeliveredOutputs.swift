import Kafka
import Logging
import Runtime

/// Which of a recovered partition's unacknowledged outputs the broker already has: a crash
/// can come between the broker's acknowledgement and the checkpoint that records it, and
/// releasing those again would repeat them on the output topics.
///
/// Reads each output partition from above its floor (`PartitionCore.outputFloors`) to its
/// end and matches the records' `statefun-id` headers. Only outputs seen on the broker are
/// skipped; one in a partition without a floor is released again, and its receivers drop
/// the repeat by id.
enum DeliveredOutputs {
    /// The outputs of `outbox` found on the broker, with where each was found.
    static func find(_ outbox: [(epoch: Int64, items: [OutboxItem])], floors: [OutputPartition: Int64],
                     configuration: WorkerConfiguration, logger: Logger) async throws -> [MessageID: (OutputPartition, Int64)] {
        var wanted: [String: MessageID] = [:]
        var topics: Set<String> = []
        for (_, items) in outbox {
            for item in items {
                switch item {
                case .envelope: continue
                case .egress(let record, let id): topics.insert(record.topic); wanted[id.description] = id
                case .deadLetter(_, let id): topics.insert(configuration.deadLetterTopic); wanted[id.description] = id
                }
            }
        }
        let starts = floors.filter { topics.contains($0.key.topic) }
            .map { TopicPartitionOffset($0.key.topic, $0.key.partition, offset: $0.value + 1) }
        guard !wanted.isEmpty, !starts.isEmpty else { return [:] }
        var consumerConfiguration = KafkaConsumerConfiguration(bootstrapServers: configuration.bootstrapServers)
        consumerConfiguration.properties = configuration.kafkaProperties
        var found: [MessageID: (OutputPartition, Int64)] = [:]
        try await KafkaConsumer.readToEnd(starts, configuration: consumerConfiguration, logger: logger) { records in
            for record in records {
                guard let header = record.header(WorkerHeaders.id), let id = wanted[String(decoding: header, as: UTF8.self)] else { continue }
                found[id] = (OutputPartition(record.topic, record.partition), record.offset)
            }
        }
        return found
    }
}
