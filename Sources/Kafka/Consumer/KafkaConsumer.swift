import CRDKafka
import Logging
import Synchronization

/// A Kafka consumer: consumer groups (`subscribe`) or manual assignment (`assign`), explicit
/// offset commits, seek, pause and resume.
///
/// A dedicated thread polls librdkafka and hands records, in batches, and rebalances to
/// `events`, in the order they happened. When the reader falls behind the thread waits, so
/// memory stays bounded (`bufferedEvents` batches plus librdkafka's prefetch).
/// Call `close()` to leave the group cleanly.
public final class KafkaConsumer: Sendable {
    private let client: RDKafkaClient
    private let channel: BoundedChannel<KafkaConsumerEvent>
    private let queue: ConsumerQueue
    private let poller: LoopThread
    private let requestTimeoutMilliseconds: Int32 = 10_000

    /// Creates the consumer and starts its polling thread; it reads nothing before `subscribe` or
    /// `assign`. `logger` receives librdkafka's log lines, client errors and rebalances. Throws a
    /// `.configuration` error when librdkafka rejects a property.
    public init(configuration: KafkaConsumerConfiguration, logger: Logger = Logger(label: "kafka.consumer")) throws(KafkaError) {
        let channel = BoundedChannel<KafkaConsumerEvent>(capacity: configuration.bufferedEvents)
        let startOffset = configuration.startsAtCommittedOffsets ? nil : configuration.offsetReset.logicalOffset
        let callbacks = RDKafkaCallbacks(
            logger: logger,
            onError: { error in
                if error.category == .fatal { channel.push(.error(error)) }
            },
            onRebalance: { [willRevoke = configuration.willRevokePartitions, didAssign = configuration.didAssignPartitions, startOffset]
                handle, code, partitions in
                Rebalance.handle(handle, code, partitions, startOffset: startOffset, channel: channel,
                                 didAssign: didAssign, willRevoke: willRevoke,
                                 logger: logger)
            }
        )
        let client = try RDKafkaClient(kind: RD_KAFKA_CONSUMER, properties: configuration.librdkafkaProperties,
                                       callbacks: callbacks) { conf in
            rd_kafka_conf_set_rebalance_cb(conf) { handle, code, partitions, opaque in
                guard let handle, let partitions, let callbacks = RDKafkaCallbacks.from(opaque) else { return }
                callbacks.onRebalance?(handle, code, partitions)
            }
        }
        // Serve every event (rebalances, errors, logs) from the consumer queue, on our thread.
        rd_kafka_poll_set_consumer(client.handle)
        let queue = ConsumerQueue(rd_kafka_queue_get_consumer(client.handle)!)
        let reader = BatchReader(maxBatchSize: configuration.maxBatchSize)
        self.client = client
        self.channel = channel
        self.queue = queue
        self.poller = LoopThread(name: "kafka-consumer-poll", iteration: {
            for event in reader.read(queue.pointer, timeoutMilliseconds: 100) {
                guard channel.push(event) else { return false }
            }
            return true
        }, finally: {
            // Leaves the group; its revoke callback finds the channel finished.
            rd_kafka_consumer_close(client.handle)
            queue.destroy()
        })
    }

    deinit {
        channel.finish()
        poller.requestStop { queue.wake() }
    }

    /// Records, rebalances and errors, in order.
    public var events: KafkaConsumerEvents { KafkaConsumerEvents(channel: channel) }

    /// Joins the consumer group (`groupID` is required) and follows `topics`.
    public func subscribe(topics: [String]) throws(KafkaError) {
        let offsets = topics.map { TopicPartitionOffset($0, RD_KAFKA_PARTITION_UA, offset: TopicPartitionOffset.stored) }
        try PartitionList.with(offsets) { list throws(KafkaError) in
            let code = rd_kafka_subscribe(client.handle, list)
            if code != RD_KAFKA_RESP_ERR_NO_ERROR { throw .from(code, "subscribe to \(topics)") }
        }
    }

    /// Reads exactly these partitions from these offsets, without group membership.
    public func assign(_ offsets: [TopicPartitionOffset]) throws(KafkaError) {
        try PartitionList.with(offsets) { list throws(KafkaError) in
            let code = rd_kafka_assign(client.handle, list)
            if code != RD_KAFKA_RESP_ERR_NO_ERROR { throw .from(code, "assign \(offsets)") }
        }
    }

    /// The partitions currently assigned to this consumer.
    public func assignment() throws(KafkaError) -> [TopicPartition] {
        var list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
        let code = rd_kafka_assignment(client.handle, &list)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR, let list else { throw .from(code, "assignment") }
        defer { rd_kafka_topic_partition_list_destroy(list) }
        return PartitionList.offsets(list).map(\.topicPartition)
    }

    /// Moves the read position of assigned partitions.
    public func seek(_ offsets: [TopicPartitionOffset]) async throws(KafkaError) {
        let client = client, timeout = requestTimeoutMilliseconds
        try await runBlocking { () throws(KafkaError) in
            try PartitionList.with(offsets) { list throws(KafkaError) in
                if let error = rd_kafka_seek_partitions(client.handle, list, timeout) { throw .consuming(error, "seek") }
                if let error = PartitionList.firstError(list, "seek") { throw error }
            }
        }
    }

    /// Stops fetching from these partitions until `resume`; the group membership stays.
    public func pause(_ partitions: [TopicPartition]) throws(KafkaError) {
        try PartitionList.with(partitions.map { TopicPartitionOffset($0, offset: 0) }) { list throws(KafkaError) in
            let code = rd_kafka_pause_partitions(client.handle, list)
            if code != RD_KAFKA_RESP_ERR_NO_ERROR { throw .from(code, "pause") }
            if let error = PartitionList.firstError(list, "pause") { throw error }
        }
    }

    /// Fetches again from partitions stopped with `pause`.
    public func resume(_ partitions: [TopicPartition]) throws(KafkaError) {
        try PartitionList.with(partitions.map { TopicPartitionOffset($0, offset: 0) }) { list throws(KafkaError) in
            let code = rd_kafka_resume_partitions(client.handle, list)
            if code != RD_KAFKA_RESP_ERR_NO_ERROR { throw .from(code, "resume") }
            if let error = PartitionList.firstError(list, "resume") { throw error }
        }
    }

    /// Commits these offsets for the group; each is the offset of the next record to read
    /// (the last processed offset + 1). Returns when the broker has stored them.
    public func commit(_ offsets: [TopicPartitionOffset]) async throws(KafkaError) {
        let client = client
        try await runBlocking { () throws(KafkaError) in
            try PartitionList.with(offsets) { list throws(KafkaError) in
                let code = rd_kafka_commit(client.handle, list, 0)
                if code != RD_KAFKA_RESP_ERR_NO_ERROR { throw .from(code, "commit \(offsets)") }
                if let error = PartitionList.firstError(list, "commit") { throw error }
            }
        }
    }

    /// The group's committed offsets for these partitions (`TopicPartitionOffset.stored`'s value,
    /// -1001, where none is committed).
    public func committed(_ partitions: [TopicPartition]) async throws(KafkaError) -> [TopicPartitionOffset] {
        let client = client, timeout = requestTimeoutMilliseconds
        return try await runBlocking { () throws(KafkaError) in
            try PartitionList.with(partitions.map { TopicPartitionOffset($0, offset: 0) }) { list throws(KafkaError) in
                let code = rd_kafka_committed(client.handle, list, timeout)
                if code != RD_KAFKA_RESP_ERR_NO_ERROR { throw .from(code, "committed offsets") }
                return PartitionList.offsets(list)
            }
        }
    }

    /// The broker's low and high watermark of a partition: the first offset and the offset the
    /// next record will get.
    public func watermarks(_ partition: TopicPartition) async throws(KafkaError) -> (low: Int64, high: Int64) {
        let client = client, timeout = requestTimeoutMilliseconds
        return try await runBlocking { () throws(KafkaError) in
            var low: Int64 = 0, high: Int64 = 0
            let code = rd_kafka_query_watermark_offsets(client.handle, partition.topic, partition.partition, &low, &high, timeout)
            if code != RD_KAFKA_RESP_ERR_NO_ERROR { throw .from(code, "watermarks of \(partition)") }
            return (low, high)
        }
    }

    /// The high watermark of an assigned partition as its last fetch response told it (no
    /// request to the broker); nil before the first fetch.
    public func lastKnownHighWatermark(_ partition: TopicPartition) -> Int64? {
        var low: Int64 = -1, high: Int64 = -1
        let code = rd_kafka_get_watermark_offsets(client.handle, partition.topic, partition.partition, &low, &high)
        return code == RD_KAFKA_RESP_ERR_NO_ERROR && high >= 0 ? high : nil
    }

    /// Leaves the group and stops the polling thread, returning once it has exited. `events`
    /// then yields the events already buffered and ends; records librdkafka has not handed over
    /// are dropped.
    public func close() async {
        channel.finish()
        poller.requestStop { queue.wake() }
        await poller.waitForExit()
    }
}

/// The consumer's librdkafka queue, destroyed by the polling thread before it exits; waking it
/// after that is a no-op.
private final class ConsumerQueue: @unchecked Sendable {
    let pointer: OpaquePointer
    private let destroyed = Mutex(false)

    init(_ pointer: OpaquePointer) { self.pointer = pointer }

    func wake() {
        destroyed.withLock { destroyed in if !destroyed { rd_kafka_queue_yield(pointer) } }
    }

    func destroy() {
        destroyed.withLock { destroyed in
            destroyed = true
            rd_kafka_queue_destroy(pointer)
        }
    }
}

/// Applies a rebalance (librdkafka requires the callback to do the assign) and reports it.
private enum Rebalance {
    static func handle(
        _ handle: OpaquePointer, _ code: rd_kafka_resp_err_t,
        _ partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>, startOffset: Int64?,
        channel: BoundedChannel<KafkaConsumerEvent>, didAssign: (@Sendable ([TopicPartition]) -> Void)?,
        willRevoke: (@Sendable ([TopicPartition]) -> Void)?,
        logger: Logger
    ) {
        let changed = PartitionList.offsets(partitions).map(\.topicPartition)
        let cooperative = String(cString: rd_kafka_rebalance_protocol(handle)) == "COOPERATIVE"
        switch code {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            if let startOffset {
                for index in 0..<Int(partitions.pointee.cnt) { partitions.pointee.elems[index].offset = startOffset }
            }
            if cooperative {
                if let error = rd_kafka_incremental_assign(handle, partitions) {
                    channel.push(.error(.consuming(error, "incremental assign")))
                }
            } else {
                rd_kafka_assign(handle, partitions)
            }
            logger.info("partitions assigned", metadata: ["kafka.partitions": "\(changed)"])
            didAssign?(changed)
            channel.push(.partitionsAssigned(changed))
        default:
            // Revoked, or lost (an error): either way this consumer no longer owns them.
            logger.info("partitions revoked", metadata: ["kafka.partitions": "\(changed)", "kafka.reason": "\(String(cString: rd_kafka_err2name(code)))"])
            channel.push(.partitionsRevoked(changed))
            willRevoke?(changed)
            if cooperative {
                if let error = rd_kafka_incremental_unassign(handle, partitions) { rd_kafka_error_destroy(error) }
            } else {
                rd_kafka_assign(handle, nil)
            }
        }
    }
}
