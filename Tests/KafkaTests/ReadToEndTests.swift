import Foundation
import Kafka
import Testing

@Suite struct ReadToEndTests {
    /// Reads every record up to the end, including the rest of a last batch of several records
    /// when started in its middle (the local broker reports that batch's first offset plus one
    /// as the partition's high watermark), and ends for an empty partition too.
    @Test func readsEveryPartitionToItsEndWhereverItStarts() async throws {
        let topic = try await TestBroker.createTopic(partitions: 3, prefix: "to-end")
        let producer = try TestBroker.producer()
        // Enqueued together: one batch per partition.
        for index in 0..<10 { try await producer.enqueue(ProducerRecord(topic: topic, partition: 0, key: "a", value: "\(index)")) }
        for index in 0..<3 { try await producer.enqueue(ProducerRecord(topic: topic, partition: 1, key: "b", value: "\(index)")) }
        try await producer.flush()
        try await producer.shutdown()
        let configuration = KafkaConsumerConfiguration(bootstrapServers: TestBroker.bootstrap)

        let all = try await within(30, "the whole topic") {
            var records: [ConsumerRecord] = []
            try await KafkaConsumer.readToEnd((0..<3).map { TopicPartitionOffset(topic, $0, offset: TopicPartitionOffset.beginning) },
                                              configuration: configuration) { records += $0 }
            return records
        }
        #expect(all.filter { $0.partition == 0 }.map(\.offset) == Array(0..<10))
        #expect(all.filter { $0.partition == 1 }.map(\.offset) == Array(0..<3))
        #expect(all.filter { $0.partition == 2 }.isEmpty)

        let rest = try await within(30, "the rest of partition 0") {
            var records: [ConsumerRecord] = []
            try await KafkaConsumer.readToEnd([TopicPartitionOffset(topic, 0, offset: 5)], configuration: configuration) { records += $0 }
            return records
        }
        #expect(rest.map(\.offset) == Array(5..<10), "the rest of the batch, however the broker reports its end")
    }
}
