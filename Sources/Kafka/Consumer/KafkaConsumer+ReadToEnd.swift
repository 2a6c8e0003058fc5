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
    /// A partition that stays quiet for `quietPeriod` without reaching its end is asked for its
    /// high watermark. When the reader has a record at or past the watermark's last offset (the
    /// first offset of the last batch on the local broker), it has the last batch the broker
    /// holds, whole (a fetch brings a batch whole), and the partition ends there. That is a
    /// broker which lost the tail of a partition (the local broker, stopped mid-write, can keep
    /// its fetches' high watermark past the batches it still holds) and whose fetches would
    /// otherwise never report the end. A reader with no record yet keeps waiting, and so does one
    /// whose question the broker does not answer.
    ///
    /// Throws the first non-retriable consumer error, or `CancellationError` when the calling
    /// task is cancelled before the end.
    public static func readToEnd(
        _ starts: [TopicPartitionOffset], configuration: KafkaConsumerConfiguration,
        quietPeriod: Duration = .seconds(2), logger: Logger = Logger(label: "kafka.consumer"),
        _ body: ([ConsumerRecord]) throws -> Void
    ) async throws {
        var configuration = configuration
        configuration.reportEndOfPartition = true
        let consumer = try KafkaConsumer(configuration: configuration, logger: logger)
        do {
            try consumer.assign(try await absolute(starts, consumer))
            var last: [TopicPartition: Int64] = [:]
            var open = Set(starts.map(\.topicPartition))
            while !open.isEmpty {
                switch await nextEvent(of: consumer, within: quietPeriod) {
                case .ended: throw CancellationError()
                case .quiet:
                    // A partition whose high watermark the broker does not give stays open: the read waits on.
                    for partition in open {
                        guard let at = last[partition], let high = try? await consumer.watermarks(partition).high, high - 1 <= at
                        else { continue }
                        logger.warning("no end reported where the broker holds nothing more: the partition ends here", metadata: [
                            "kafka.topic": "\(partition.topic)", "kafka.partition": "\(partition.partition)", "kafka.offset": "\(at)",
                        ])
                        open.remove(partition)
                    }
                case .event(.records(let records)):
                    for record in records { last[record.topicPartition] = record.offset }
                    try body(records)
                // Records come before the end of their partition, so every one before it was read.
                case .event(.endOfPartition(let partition, _)): open.remove(partition)
                case .event(.error(let error)) where !error.isRetriable: throw error
                case .event: break
                }
            }
        } catch {
            await consumer.close()
            throw error
        }
        await consumer.close()
    }

    private enum Waited: Sendable {
        case event(KafkaConsumerEvent)
        /// Nothing came within the quiet period.
        case quiet
        /// The events ended: the consumer closed, or the calling task was cancelled.
        case ended
    }

    /// The consumer's next event, or `.quiet` when none comes within `period`. An event taken
    /// as the period ends is kept, never lost.
    private static func nextEvent(of consumer: KafkaConsumer, within period: Duration) async -> Waited {
        await withTaskGroup(of: Waited?.self) { group in
            group.addTask {
                var events = consumer.events.makeAsyncIterator()
                if let event = await events.next() { return .event(event) }
                return Task.isCancelled ? nil : .ended
            }
            group.addTask {
                do { try await Task.sleep(for: period) } catch { return nil }
                return .quiet
            }
            var waited: Waited?
            for await result in group {
                group.cancelAll()
                switch result {
                case .event?: waited = result
                case .quiet?, .ended?: if waited == nil { waited = result }
                case nil: break
                }
            }
            return waited ?? .ended
        }
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
