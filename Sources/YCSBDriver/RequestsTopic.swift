import Foundation
import Kafka
import YCSB

/// The requests topic as it is on the broker, read from the start to its current end.
struct RequestsTopic {
    let topic: String
    let bootstrap: String

    init(_ topic: String, bootstrap: String) {
        self.topic = topic
        self.bootstrap = bootstrap
    }

    /// The requests among `requests` that no record of the topic carries (none when the topic
    /// cannot be read to its end within two minutes).
    func lacking(_ requests: [YCSB.Request]) async throws -> [YCSB.Request] {
        let wanted = Set(requests.map(\.request_id))
        let partitions = try await KafkaAdmin(configuration: KafkaAdminConfiguration(bootstrapServers: bootstrap))
            .describeTopic(topic).partitionCount
        let consumer = try KafkaConsumer(configuration: KafkaConsumerConfiguration(bootstrapServers: bootstrap))
        var ends: [Int32: Int64] = [:]
        for partition in 0..<Int32(partitions) {
            let end = try await consumer.watermarks(TopicPartition(topic, partition)).high
            if end > 0 { ends[partition] = end }
        }
        guard !ends.isEmpty else {
            await consumer.close()
            return requests
        }
        try consumer.assign(ends.keys.map { TopicPartitionOffset(topic, $0, offset: TopicPartitionOffset.beginning) })
        let reading = Task { [ends] () -> Set<String>? in
            var ends = ends
            var found: Set<String> = []
            let decoder = JSONDecoder()
            for await event in consumer.events {
                guard case .records(let records) = event else { continue }
                for record in records {
                    if let request = try? decoder.decode(YCSB.Request.self, from: Data(record.value ?? [])),
                       wanted.contains(request.request_id) {
                        found.insert(request.request_id)
                    }
                    if let end = ends[record.partition], record.offset + 1 >= end { ends[record.partition] = nil }
                }
                if ends.isEmpty { return found }
            }
            return nil
        }
        let deadline = Task {
            try await Task.sleep(for: .seconds(120))
            reading.cancel()
        }
        let found = await reading.value
        deadline.cancel()
        await consumer.close()
        // Not read to its end within two minutes: nothing is known to be missing.
        guard let found else { return [] }
        return requests.filter { !found.contains($0.request_id) }
    }
}
