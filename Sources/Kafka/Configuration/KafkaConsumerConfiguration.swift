/// Settings of a `KafkaConsumer`. Every field has a documented default; `properties` passes any
/// librdkafka property through and wins over the typed fields.
public struct KafkaConsumerConfiguration: Sendable {
    /// Where reading a partition starts when the group has no committed offset for it
    /// (`auto.offset.reset`).
    public enum OffsetReset: String, Sendable {
        /// Start from the first record when there is no committed offset.
        case earliest
        /// Start after the last record when there is no committed offset.
        case latest
        /// Report an error when there is no committed offset.
        case error

        /// The logical offset to start an assigned partition at, without a committed offset.
        var logicalOffset: Int64 {
            switch self {
            case .earliest: TopicPartitionOffset.beginning
            case .latest: TopicPartitionOffset.end
            case .error: TopicPartitionOffset.stored
            }
        }
    }

    /// `bootstrap.servers`, e.g. `127.0.0.1:9092`.
    public var bootstrapServers: String
    /// `group.id`. Needed for `subscribe` and `commit`; `nil` for a consumer that only uses
    /// `assign` (librdkafka still wants a group id, so a private one is made up; nothing is
    /// committed under it). Default `nil`.
    public var groupID: String?
    /// `client.id`. Default `statefun`.
    public var clientID = "statefun"
    /// `auto.offset.reset`. Default `.earliest`.
    public var offsetReset = OffsetReset.earliest
    /// Whether partitions the group assigns start at the group's committed offsets (asked of the
    /// broker before fetching starts). When false they start at once at `offsetReset`'s end of
    /// the partition, for a caller that positions them itself (`seek`) and commits nothing
    /// under the group: its seeks are then accepted sooner and do not wait on that request.
    /// Default true.
    public var startsAtCommittedOffsets = true
    /// `session.timeout.ms`. Default 6 s: a group join on the local broker takes about half of it.
    public var sessionTimeoutMilliseconds = 6_000
    /// `max.poll.interval.ms`, which is also how long the group waits for its members to rejoin
    /// in a rebalance: a member that vanishes in the middle of one stalls the whole group this
    /// long. The polling thread polls continuously, so only `willRevokePartitions` counts
    /// against it. Default 30 s (librdkafka's is 5 minutes).
    public var maxPollIntervalMilliseconds = 30_000
    /// `fetch.wait.max.ms`. The local broker looks for new data during a fetch only after half
    /// the remaining wait each time, so a record can wait half of this there. Default 10 ms.
    public var fetchWaitMaxMilliseconds = 10
    /// Records handed over per `.records` event at most. Default 1,000.
    public var maxBatchSize = 1_000
    /// Events buffered between the polling thread and the reader; when full the polling thread
    /// waits, and librdkafka's own prefetch (`queued.max.messages.kbytes`) bounds the rest.
    /// Default 16.
    public var bufferedEvents = 16
    /// `queued.max.messages.kbytes`: prefetched data per client. Default 16 MiB.
    public var maxPrefetchKilobytes = 16_384
    /// Emit `.endOfPartition` when the consumer reaches the end of a partition. Default false.
    public var reportEndOfPartition = false
    /// Called on the polling thread when the group takes partitions away, before they are
    /// released: the group waits until it returns, so the caller can finish work on them first
    /// (another member gets them only afterwards). Keep it bounded. Default nil.
    public var willRevokePartitions: (@Sendable ([TopicPartition]) -> Void)?
    /// Called on the polling thread once the group has given partitions to this consumer,
    /// before `partitionsAssigned` is delivered: with `willRevokePartitions`, the caller sees
    /// assignments and revocations in the order the group made them, even when a revocation
    /// comes before the events are read. Default nil.
    public var didAssignPartitions: (@Sendable ([TopicPartition]) -> Void)?
    /// Any librdkafka property (CONFIGURATION.md), applied last.
    public var properties: [String: String] = [:]

    /// Settings for the cluster at `bootstrapServers`, for group `groupID` (nil: a consumer that
    /// only uses `assign`), every other field at its default.
    public init(bootstrapServers: String, groupID: String? = nil) {
        self.bootstrapServers = bootstrapServers
        self.groupID = groupID
    }

    /// Offsets are committed only by the caller (`commit`): the engine stores positions in its
    /// own checkpoints and must never have librdkafka commit on its own.
    var librdkafkaProperties: [String: String] {
        var props = [
            "bootstrap.servers": bootstrapServers,
            "client.id": clientID,
            "enable.auto.commit": "false",
            "enable.auto.offset.store": "false",
            "auto.offset.reset": offsetReset.rawValue,
            "session.timeout.ms": String(sessionTimeoutMilliseconds),
            "heartbeat.interval.ms": String(max(100, sessionTimeoutMilliseconds / 3)),
            "max.poll.interval.ms": String(maxPollIntervalMilliseconds),
            "fetch.wait.max.ms": String(fetchWaitMaxMilliseconds),
            "queued.max.messages.kbytes": String(maxPrefetchKilobytes),
            "enable.partition.eof": reportEndOfPartition ? "true" : "false",
        ]
        props["group.id"] = groupID ?? "statefun-assign-only-\(UInt64.random(in: 0...UInt64.max))"
        return props.merging(properties) { _, override in override }
    }
}
