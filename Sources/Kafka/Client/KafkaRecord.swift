/// A record header. A header may have no value.
public struct KafkaHeader: Hashable, Sendable {
    public var key: String
    public var value: [UInt8]?

    public init(key: String, value: [UInt8]?) {
        self.key = key
        self.value = value
    }

    public init(key: String, value: String) {
        self.init(key: key, value: Array(value.utf8))
    }
}

/// A record to produce. A `nil` value is a tombstone.
public struct ProducerRecord: Sendable {
    public var topic: String
    /// `nil` lets the partitioner choose: murmur2 of the key, as Kafka's Java client does.
    public var partition: Int32?
    public var key: [UInt8]?
    public var value: [UInt8]?
    public var headers: [KafkaHeader]

    public init(topic: String, partition: Int32? = nil, key: [UInt8]? = nil, value: [UInt8]?, headers: [KafkaHeader] = []) {
        self.topic = topic
        self.partition = partition
        self.key = key
        self.value = value
        self.headers = headers
    }

    public init(topic: String, partition: Int32? = nil, key: String, value: String?, headers: [KafkaHeader] = []) {
        self.init(topic: topic, partition: partition, key: Array(key.utf8), value: value.map { Array($0.utf8) },
                  headers: headers)
    }
}

/// Where the broker stored a produced record.
public struct DeliveryReport: Hashable, Sendable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
}

/// A consumed record. A `nil` value is a tombstone.
public struct ConsumerRecord: Sendable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    public var key: [UInt8]?
    public var value: [UInt8]?
    public var headers: [KafkaHeader]
    /// Milliseconds since the epoch, when the record has a timestamp.
    public var timestamp: Int64?

    public var topicPartition: TopicPartition { TopicPartition(topic, partition) }

    /// The value of the last header named `key`.
    public func header(_ key: String) -> [UInt8]? {
        headers.last { $0.key == key }?.value
    }
}
