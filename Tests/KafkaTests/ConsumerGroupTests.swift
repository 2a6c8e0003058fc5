import Foundation
import Kafka
import Synchronization
import Testing

@Suite struct ConsumerGroupTests {
    @Test func aRestartedConsumerResumesRightAfterTheCommittedOffset() async throws {
        let topic = try await TestBroker.createTopic(partitions: 1, prefix: "commit")
        let group = TestBroker.uniqueTopic("group")
        let producer = try TestBroker.producer()
        for index in 0..<10 { try await producer.enqueue(ProducerRecord(topic: topic, key: "k", value: "\(index)")) }
        try await producer.flush()
        try await producer.shutdown()

        let first = try TestBroker.consumer(group: group)
        try first.subscribe(topics: [topic])
        let read = try await collectRecords(first, count: 4)
        let lastProcessed = read[3]
        try await first.commit([TopicPartitionOffset(lastProcessed.topicPartition, offset: lastProcessed.offset + 1)])
        let committed = try await first.committed([lastProcessed.topicPartition])
        #expect(committed.map(\.offset) == [4])
        await first.close()

        let second = try TestBroker.consumer(group: group)
        try second.subscribe(topics: [topic])
        let rest = try await collectRecords(second, count: 6)
        await second.close()
        #expect(rest.map(\.offset) == [4, 5, 6, 7, 8, 9], "no loss and no repeat after the committed offset")
        #expect(rest.map { $0.value?.text } == (4..<10).map { "\($0)" })

        // A member that positions partitions itself starts at the beginning, commit or not.
        var configuration = KafkaConsumerConfiguration(bootstrapServers: TestBroker.bootstrap, groupID: group)
        configuration.startsAtCommittedOffsets = false
        let third = try KafkaConsumer(configuration: configuration)
        try third.subscribe(topics: [topic])
        let all = try await collectRecords(third, count: 10)
        await third.close()
        #expect(all.map(\.offset) == Array(0..<10))
    }

    @Test func twoMembersSplitThePartitionsAndTheSurvivorTakesThemAll() async throws {
        let topic = try await TestBroker.createTopic(partitions: 4, prefix: "split")
        let group = TestBroker.uniqueTopic("group")
        let all = Set((0..<4).map { TopicPartition(topic, Int32($0)) })

        let a = try TestBroker.consumer(group: group)
        let b = try TestBroker.consumer(group: group)
        let ownedByA = Assignment(), ownedByB = Assignment()
        try a.subscribe(topics: [topic])
        try b.subscribe(topics: [topic])

        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { await ownedByA.follow(a) }
            tasks.addTask { await ownedByB.follow(b) }

            try await eventually("both members own a share of all partitions") {
                let (sa, sb) = (ownedByA.partitions, ownedByB.partitions)
                return !sa.isEmpty && !sb.isEmpty && sa.isDisjoint(with: sb) && sa.union(sb) == all
            }
            await b.close()
            try await eventually("the survivor owns every partition") { ownedByA.partitions == all }
            await a.close()
            tasks.cancelAll()
        }
    }
}

/// The partitions a consumer owns, as told by its rebalance events.
final class Assignment: Sendable {
    private let owned = Mutex<Set<TopicPartition>>([])

    var partitions: Set<TopicPartition> { owned.withLock { $0 } }

    func follow(_ consumer: KafkaConsumer) async {
        for await event in consumer.events {
            switch event {
            case .partitionsAssigned(let added): owned.withLock { $0.formUnion(added) }
            case .partitionsRevoked(let removed): owned.withLock { $0.subtract(removed) }
            default: break
            }
        }
    }
}

/// Polls `condition` until it holds, failing after `seconds`.
func eventually(_ what: String, seconds: Double = 60, _ condition: @escaping @Sendable () -> Bool) async throws {
    try await within(seconds, what) {
        while !condition() { try await Task.sleep(for: .milliseconds(50)) }
    }
}
