import Kafka
import Synchronization
import Testing

@Suite struct RoundTripTests {
    @Test func keysHeadersAndTombstonesSurviveARoundTrip() async throws {
        let topic = try await TestBroker.createTopic(partitions: 1, prefix: "roundtrip")
        let producer = try TestBroker.producer()
        let sent = [
            ProducerRecord(topic: topic, key: "alice", value: "hello",
                           headers: [KafkaHeader(key: "trace", value: "t-1"), KafkaHeader(key: "empty", value: nil)]),
            ProducerRecord(topic: topic, key: Array("bob".utf8), value: [], headers: []),
            ProducerRecord(topic: topic, key: "carol", value: nil, timestamp: 1_700_000_000_123),
        ]
        var reports: [DeliveryReport] = []
        for record in sent { reports.append(try await producer.send(record)) }
        #expect(reports.map(\.offset) == [0, 1, 2])
        try await producer.shutdown()

        let consumer = try TestBroker.consumer()
        try consumer.assign([TopicPartitionOffset(topic, 0, offset: TopicPartitionOffset.beginning)])
        let records = try await collectRecords(consumer, count: 3)
        await consumer.close()

        try #require(records.count == 3)
        #expect(records.map { $0.key?.text } == ["alice", "bob", "carol"])
        #expect(records[0].value?.text == "hello")
        #expect(records[0].headers == [KafkaHeader(key: "trace", value: "t-1"), KafkaHeader(key: "empty", value: nil)])
        #expect(records[0].header("trace")?.text == "t-1")
        #expect(records[1].value == [], "an empty value stays distinct from a tombstone")
        #expect(records[2].value == nil, "a tombstone has no value")
        #expect(records.map(\.offset) == [0, 1, 2])
        #expect(records.allSatisfy { $0.timestamp != nil })
        #expect(records[2].timestamp == 1_700_000_000_123, "a timestamp given by the producer is the record's")
    }

    /// Once its fence gives a reason, a producer refuses every record with a `.fenced` error
    /// before librdkafka sees it: the topic holds exactly the records sent before.
    @Test func aFencedProducerHandsNothingMoreToTheBroker() async throws {
        let topic = try await TestBroker.createTopic(partitions: 1, prefix: "fenced")
        let fenced = Atomic<Bool>(false)
        var configuration = KafkaProducerConfiguration(bootstrapServers: TestBroker.bootstrap)
        configuration.fence = { fenced.load(ordering: .relaxed) ? "the lease lapsed" : nil }
        let producer = try KafkaProducer(configuration: configuration)
        // One batch each: the local broker's high watermark is the last batch's first offset + 1.
        for index in 0..<3 { try await producer.send(ProducerRecord(topic: topic, key: "k", value: "before \(index)")) }
        fenced.store(true, ordering: .relaxed)
        let refused = await #expect(throws: KafkaError.self) {
            try await producer.send(ProducerRecord(topic: topic, key: "k", value: "after"))
        }
        #expect(refused?.category == .fenced)
        #expect(refused?.message.contains("the lease lapsed") == true)
        await #expect(throws: KafkaError.self) { try await producer.enqueue(ProducerRecord(topic: topic, key: "k", value: "after")) }
        try await producer.shutdown()

        let consumer = try TestBroker.consumer()
        try consumer.assign([TopicPartitionOffset(topic, 0, offset: TopicPartitionOffset.beginning)])
        let records = try await collectRecords(consumer, count: 3)
        let (_, end) = try await consumer.watermarks(TopicPartition(topic, 0))
        await consumer.close()
        #expect(records.map { $0.value?.text } == ["before 0", "before 1", "before 2"])
        #expect(end == 3, "nothing after the fence reached the broker")
    }

    @Test func bulkEnqueueThenFlushDeliversEverythingInOrder() async throws {
        let topic = try await TestBroker.createTopic(partitions: 1, prefix: "bulk")
        let producer = try TestBroker.producer()
        for index in 0..<5_000 {
            try await producer.enqueue(ProducerRecord(topic: topic, key: "k", value: "\(index)"))
        }
        try await producer.flush()
        #expect(producer.outstandingCount == 0)
        try await producer.shutdown()

        let consumer = try TestBroker.consumer()
        try consumer.assign([TopicPartitionOffset(topic, 0, offset: TopicPartitionOffset.beginning)])
        let records = try await collectRecords(consumer, count: 5_000)
        await consumer.close()
        #expect(records.map { $0.value?.text } == (0..<5_000).map { "\($0)" })
    }

    @Test func seekMovesTheReadPosition() async throws {
        let topic = try await TestBroker.createTopic(partitions: 1, prefix: "seek")
        let producer = try TestBroker.producer()
        for index in 0..<5 { try await producer.send(ProducerRecord(topic: topic, key: "k", value: "\(index)")) }
        try await producer.shutdown()

        let consumer = try TestBroker.consumer()
        try consumer.assign([TopicPartitionOffset(topic, 0, offset: TopicPartitionOffset.beginning)])
        let first = try await collectRecords(consumer, count: 5)
        #expect(first.map(\.offset) == [0, 1, 2, 3, 4])
        try await consumer.seek([TopicPartitionOffset(topic, 0, offset: 2)])
        let again = try await collectRecords(consumer, count: 3)
        #expect(again.map(\.offset) == [2, 3, 4])
        await consumer.close()
    }

    @Test func pausedPartitionsDeliverNothingUntilResumed() async throws {
        let topic = try await TestBroker.createTopic(partitions: 1, prefix: "pause")
        let partition = TopicPartition(topic, 0)
        let consumer = try TestBroker.consumer()
        try consumer.assign([TopicPartitionOffset(partition, offset: TopicPartitionOffset.beginning)])
        try consumer.pause([partition])

        let producer = try TestBroker.producer()
        try await producer.send(ProducerRecord(topic: topic, key: "k", value: "while paused"))
        try await producer.shutdown()

        await #expect(throws: TimedOut.self) { try await collectRecords(consumer, count: 1, seconds: 2) }
        try consumer.resume([partition])
        let records = try await collectRecords(consumer, count: 1)
        #expect(records.first?.value?.text == "while paused")
        await consumer.close()
    }
}
