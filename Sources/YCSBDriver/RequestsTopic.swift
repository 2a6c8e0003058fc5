import Foundation
import Kafka
import YCSB

/// The requests topic as it is on the broker, read from the start to its current end.
struct RequestsTopic {
    let topic: String
    let kafka: KafkaSettings

    init(_ topic: String, kafka: KafkaSettings) {
        self.topic = topic
        self.kafka = kafka
    }

    /// The requests among `requests` that no record of the topic carries (none when the topic
    /// cannot be read to its end within two minutes).
    func lacking(_ requests: [YCSB.Request]) async throws -> [YCSB.Request] {
        let wanted = Set(requests.map(\.request_id))
        let partitions = try await KafkaAdmin(configuration: kafka.admin)
            .describeTopic(topic).partitionCount
        let starts = (0..<Int32(partitions)).map { TopicPartitionOffset(topic, $0, offset: TopicPartitionOffset.beginning) }
        let reading = Task { [kafka] () -> Set<String> in
            var found: Set<String> = []
            let decoder = JSONDecoder()
            try await KafkaConsumer.readToEnd(starts, configuration: kafka.consumer) { records in
                for record in records {
                    if let request = try? decoder.decode(YCSB.Request.self, from: Data(record.value ?? [])),
                       wanted.contains(request.request_id) {
                        found.insert(request.request_id)
                    }
                }
            }
            return found
        }
        let deadline = Task {
            try await Task.sleep(for: .seconds(120))
            reading.cancel()
        }
        defer { deadline.cancel() }
        // Not read to its end within two minutes: nothing is known to be missing.
        guard let found = try? await reading.value else { return [] }
        return requests.filter { !found.contains($0.request_id) }
    }
}
