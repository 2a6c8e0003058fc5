import Kafka
import StatefulFunctions

/// The topics an application needs, created when missing.
struct Topics {
    let configuration: WorkerConfiguration
    let application: Application

    func ensure(_ admin: KafkaAdmin) async throws {
        let partitions = configuration.partitions
        let replication = configuration.replicationFactor
        try await admin.ensureTopic(configuration.internalTopic, partitions: partitions, replicationFactor: replication)
        // Never compacted or deleted by time: recovery reads it from the latest snapshot on.
        try await admin.ensureTopic(configuration.checkpointTopic, partitions: partitions, replicationFactor: replication,
                                    configs: ["retention.ms": "-1"])
        try await admin.ensureTopic(configuration.snapshotTopic, partitions: partitions, replicationFactor: replication,
                                    configs: ["retention.ms": "-1"])
        try await admin.ensureTopic(configuration.deadLetterTopic, partitions: 1, replicationFactor: replication)
        // One partition, so that one record marks the epochs of all of a worker's partitions at once.
        try await admin.ensureTopic(configuration.stabilityTopic, partitions: 1, replicationFactor: replication,
                                    configs: ["retention.ms": "-1"])
        // Only the latest progress record of each transaction matters.
        try await admin.ensureTopic(configuration.transactionLogTopic, partitions: partitions, replicationFactor: replication,
                                    configs: ["cleanup.policy": "compact"])
        for topic in application.egressTopics {
            try await admin.ensureTopic(topic, partitions: partitions, replicationFactor: replication)
        }
        for topic in Set(application.ingresses.map(\.topic)) {
            try await admin.ensureTopic(topic, partitions: partitions, replicationFactor: replication)
            let existing = try await admin.describeTopic(topic).partitionCount
            // Partition k of every input belongs to key partition k, so the counts must agree.
            guard existing == partitions else {
                throw WorkerError(.topicMismatch,
                                  "ingress topic \(topic) has \(existing) partitions; the application uses \(partitions)")
            }
        }
    }
}
