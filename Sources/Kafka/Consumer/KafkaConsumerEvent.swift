/// What a consumer reports, in the order it happened.
public enum KafkaConsumerEvent: Sendable {
    /// Records, in offset order per partition.
    case records([ConsumerRecord])
    /// The group gave these partitions to this consumer (incremental: add them to what it has).
    case partitionsAssigned([TopicPartition])
    /// These partitions were taken away (incremental: remove them from what it has).
    case partitionsRevoked([TopicPartition])
    /// The consumer read up to the end of a partition (only with `reportEndOfPartition`).
    case endOfPartition(TopicPartition, offset: Int64)
    /// A consumer error; retriable ones are retried by librdkafka on its own.
    case error(KafkaError)
}

/// The events of one consumer. Iterate it from one task at a time; cancelling that task ends the
/// iteration without losing buffered events.
public struct KafkaConsumerEvents: AsyncSequence, Sendable {
    public typealias Element = KafkaConsumerEvent
    let channel: BoundedChannel<KafkaConsumerEvent>

    public struct AsyncIterator: AsyncIteratorProtocol {
        let channel: BoundedChannel<KafkaConsumerEvent>
        public mutating func next() async -> KafkaConsumerEvent? { await channel.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(channel: channel) }
}
