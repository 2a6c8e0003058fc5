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
    /// Each element is one event of the consumer.
    public typealias Element = KafkaConsumerEvent
    let channel: BoundedChannel<KafkaConsumerEvent>

    /// Reads the consumer's events one by one; see `KafkaConsumerEvents`.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let channel: BoundedChannel<KafkaConsumerEvent>
        /// The next event, waiting until there is one. Nil once the consumer is closed and its
        /// buffered events are read, or when the calling task is cancelled.
        public mutating func next() async -> KafkaConsumerEvent? { await channel.next() }
    }

    /// An iterator over the consumer's events. All iterators read the same buffer: an event one of
    /// them took, another does not see.
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(channel: channel) }
}
