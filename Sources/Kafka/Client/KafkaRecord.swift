/// A record header. A header may have no value.
public struct KafkaHeader: Hashable, Sendable {
    /// The header's name; several headers of a record may share one.
    public var key: String
    /// The header's value, or nil for a header without one.
    public var value: [UInt8]?

    /// A header with raw bytes as its value, or with none.
    public init(key: String, value: [UInt8]?) {
        self.key = key
        self.value = value
    }

    /// A header whose value is the UTF-8 bytes of `value`.
    public init(key: String, value: String) {
        self.init(key: key, value: Array(value.utf8))
    }
}

/// A record to produce. A `nil` value is a tombstone.
public struct ProducerRecord: Sendable {
    /// The topic to write to.
    public var topic: String
    /// `nil` lets the partitioner choose: murmur2 of the key, as Kafka's Java client does.
    public var partition: Int32?
    /// The record key, or nil for none. With `partition` nil it decides the partition.
    public var key: [UInt8]?
    /// The record value; nil writes a tombstone.
    public var value: [UInt8]?
    /// Headers written with the record, in order.
    public var headers: [KafkaHeader]
    /// The record's timestamp in milliseconds since the epoch; `nil` lets the producer take the
    /// time at which the record is produced.
    public var timestamp: Int64?

    /// A record with raw key and value bytes. By default it has no key and no headers, the
    /// partitioner picks the partition and the producer sets the timestamp.
    public init(topic: String, partition: Int32? = nil, key: [UInt8]? = nil, value: [UInt8]?, headers: [KafkaHeader] = [],
                timestamp: Int64? = nil) {
        self.topic = topic
        self.partition = partition
        self.key = key
        self.value = value
        self.headers = headers
        self.timestamp = timestamp
    }

    /// A record whose key and value are the UTF-8 bytes of these strings; a nil value writes a
    /// tombstone.
    public init(topic: String, partition: Int32? = nil, key: String, value: String?, headers: [KafkaHeader] = [],
                timestamp: Int64? = nil) {
        self.init(topic: topic, partition: partition, key: Array(key.utf8), value: value.map { Array($0.utf8) },
                  headers: headers, timestamp: timestamp)
    }
}

/// Where the broker stored a produced record.
public struct DeliveryReport: Hashable, Sendable {
    /// The topic the record was written to.
    public var topic: String
    /// The partition the record was written to.
    public var partition: Int32
    /// The record's offset in that partition.
    public var offset: Int64
}

/// A consumed record. A `nil` value is a tombstone.
public struct ConsumerRecord: Sendable {
    /// The topic the record was read from.
    public var topic: String
    /// The partition the record was read from.
    public var partition: Int32
    /// The record's offset in its partition.
    public var offset: Int64
    /// The record key, or nil when it has none.
    public var key: [UInt8]?
    /// The record value; nil for a tombstone.
    public var value: [UInt8]?
    /// The record's headers, in the order they were written.
    public var headers: [KafkaHeader]
    /// Milliseconds since the epoch, when the record has a timestamp.
    public var timestamp: Int64?

    /// The record's topic and partition together.
    public var topicPartition: TopicPartition { TopicPartition(topic, partition) }

    /// The value of the last header named `key`.
    public func header(_ key: String) -> [UInt8]? {
        headers.last { $0.key == key }?.value
    }
}
