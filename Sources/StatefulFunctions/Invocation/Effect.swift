/// A Kafka record as functions see it: what an ingress topic delivers and what a function
/// writes to an egress topic.
public struct TopicRecord: Hashable, Sendable {
    /// The topic the record is read from or is to be written to.
    public var topic: String
    /// The record key, or nil when it has none.
    public var key: [UInt8]?
    /// The record value, or nil when it has none (a tombstone).
    public var value: [UInt8]?
    /// The record's headers, in order.
    public var headers: [RecordHeader]

    /// A record with raw key and value bytes.
    public init(topic: String, key: [UInt8]?, value: [UInt8]?, headers: [RecordHeader] = []) {
        self.topic = topic
        self.key = key
        self.value = value
        self.headers = headers
    }

    /// A record whose key and value are the UTF-8 bytes of these strings.
    public init(topic: String, key: String, value: String, headers: [RecordHeader] = []) {
        self.init(topic: topic, key: Array(key.utf8), value: Array(value.utf8), headers: headers)
    }

    /// The key decoded as UTF-8 (invalid bytes become U+FFFD), or nil when there is no key.
    public var keyText: String? { key.map { String(decoding: $0, as: UTF8.self) } }
    /// The value decoded as UTF-8 (invalid bytes become U+FFFD), or nil when there is no value.
    public var valueText: String? { value.map { String(decoding: $0, as: UTF8.self) } }
}

/// A record written to a Kafka egress topic.
public typealias EgressRecord = TopicRecord
/// A record read from an ingress topic, before it becomes an invocation.
public typealias IngressRecord = TopicRecord

/// A header of a `TopicRecord`: a name and a value in bytes.
public struct RecordHeader: Hashable, Sendable {
    /// The header's name.
    public var key: String
    /// The header's value, in bytes.
    public var value: [UInt8]

    /// A header named `key` with the bytes `value`.
    public init(key: String, value: [UInt8]) {
        self.key = key
        self.value = value
    }
}

/// What an invocation asks the runtime to do besides changing its own state. The runtime
/// performs all of an invocation's effects, or (when it fails) none.
public enum Effect: Hashable, Sendable {
    /// Delivers `message` to `to` once the invocation's effects are applied.
    case send(to: Address, message: Message)
    /// Sent after `delayMilliseconds`; a later `cancelDelayed` with the same token (from the same
    /// address) cancels it while it is pending.
    case sendDelayed(to: Address, message: Message, delayMilliseconds: Int64, cancellationToken: String?)
    /// Cancels the pending delayed message this address sent with the same token.
    case cancelDelayed(cancellationToken: String)
    /// Writes the record to its egress topic.
    case egress(EgressRecord)
}
