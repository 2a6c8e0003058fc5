import Logging

extension KafkaConsumer {
    /// Reads partitions from `starts` up to their end as it is now, handing the records to
    /// `body` batch by batch, in offset order per partition.
    ///
    /// The end is where the broker's fetches report the end of the partition, never the high
    /// watermark `watermarks` asks for: the local broker answers that with the first offset of
    /// the partition's last batch plus one, so a reader stopping there would miss the rest of a
    /// batch of several records (the last epochs of a checkpoint log, say).
    ///
    /// Throws the first non-retriable consumer error, or `CancellationError` when the calling
    /// task is cancelled before the end.
    public static func readToEnd(
        _ starts: [TopicPartitionOffset], configuration: KafkaConsumerConfiguration,
        logger: Logger = Logger(label: "kafka.consumer"),
        _ body: ([ConsumerRecord]) throws -> Void
    ) async throws {
        var configuration = configuration
        configuration.reportEndOfPartition = true
        let consumer = try KafkaConsumer(configuration: configuration, logger: logger)
        do {
            try consumer.assign(try await absolute(starts, consumer))
            var open = Set(starts.map(\.topicPartition))
            var events = consumer.events.makeAsyncIterator()
            while !open.isEmpty {
                guard let event = await events.next() else { throw CancellationError() }
                switch event {
                case .records(let records): try body(records)
                // Records come before the end of their partition, so every one before it was read.
                case .endOfPartition(let partition, _): open.remove(partition)
                case .error(let error) where !error.isRetriable: throw error
                default: break
                }
            }
        } catch {
            await consumer.close()
            throw error
        }
        await consumer.close()
    }

    /// `starts` with the logical beginning replaced by the partition's low watermark. librdkafka
    /// looks a logical offset up once the partition's leader is known, but when that comes after
    /// the assignment (always, for a new client) it waits for a fixed 500 ms retry first; an
    /// absolute offset is fetched as soon as the leader is known.
    private static func absolute(_ starts: [TopicPartitionOffset], _ consumer: KafkaConsumer) async throws -> [TopicPartitionOffset] {
        var resolved: [TopicPartitionOffset] = []
        for start in starts {
            guard start.offset == TopicPartitionOffset.beginning else {
                resolved.append(start)
                continue
            }
            let low = try await consumer.watermarks(start.topicPartition).low
            resolved.append(TopicPartitionOffset(start.topicPartition, offset: low))
        }
        return resolved
    }
}
