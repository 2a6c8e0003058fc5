import CRDKafka

/// A partition of a topic.
public struct TopicPartition: Hashable, Sendable, CustomStringConvertible {
    /// The name of the topic.
    public var topic: String
    /// The partition's index within the topic, from 0.
    public var partition: Int32

    /// Partition `partition` of `topic`.
    public init(_ topic: String, _ partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    /// Written `topic[partition]`.
    public var description: String { "\(topic)[\(partition)]" }
}

/// A partition and an offset in it: where to start reading, or (committed) the next record to read.
public struct TopicPartitionOffset: Hashable, Sendable, CustomStringConvertible {
    /// The partition the offset belongs to.
    public var topicPartition: TopicPartition
    /// An absolute offset (0 or more) or one of the logical offsets `beginning`, `end` and
    /// `stored`.
    public var offset: Int64

    /// The first record still in the partition. Like `end` and `stored`, a logical offset
    /// librdkafka understands besides absolute ones.
    public static let beginning = Int64(RD_KAFKA_OFFSET_BEGINNING)
    /// After the last record: only records written from then on are read.
    public static let end = Int64(RD_KAFKA_OFFSET_END)
    /// The committed offset of the group, or `auto.offset.reset` when there is none.
    public static let stored = Int64(RD_KAFKA_OFFSET_STORED)

    /// Offset `offset` of `topicPartition`.
    public init(_ topicPartition: TopicPartition, offset: Int64) {
        self.topicPartition = topicPartition
        self.offset = offset
    }

    /// Offset `offset` of partition `partition` of `topic`.
    public init(_ topic: String, _ partition: Int32, offset: Int64) {
        self.init(TopicPartition(topic, partition), offset: offset)
    }

    /// Written `topic[partition]@offset`.
    public var description: String { "\(topicPartition)@\(offset)" }
}

/// Conversions to and from librdkafka's `rd_kafka_topic_partition_list_t`.
enum PartitionList {
    /// Calls `body` with a new list holding `offsets`, destroyed afterwards.
    static func with<T>(
        _ offsets: [TopicPartitionOffset],
        _ body: (UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) throws(KafkaError) -> T
    ) throws(KafkaError) -> T {
        let list = rd_kafka_topic_partition_list_new(Int32(offsets.count))!
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for entry in offsets {
            let element = rd_kafka_topic_partition_list_add(list, entry.topicPartition.topic, entry.topicPartition.partition)!
            element.pointee.offset = entry.offset
        }
        return try body(list)
    }

    static func offsets(_ list: UnsafePointer<rd_kafka_topic_partition_list_t>) -> [TopicPartitionOffset] {
        (0..<Int(list.pointee.cnt)).map { index in
            let element = list.pointee.elems[index]
            return TopicPartitionOffset(String(cString: element.topic), element.partition, offset: element.offset)
        }
    }

    /// The first per-partition error in `list`, if any.
    static func firstError(_ list: UnsafePointer<rd_kafka_topic_partition_list_t>, _ context: String) -> KafkaError? {
        for index in 0..<Int(list.pointee.cnt) {
            let element = list.pointee.elems[index]
            if element.err != RD_KAFKA_RESP_ERR_NO_ERROR {
                return .from(element.err, "\(context) \(String(cString: element.topic))[\(element.partition)]")
            }
        }
        return nil
    }
}
