/// A Kafka record as functions see it: what an ingress topic delivers and what a function
/// writes to an egress topic.
public struct TopicRecord: Hashable, Sendable {
    public var topic: String
    public var key: [UInt8]?
    public var value: [UInt8]?
    public var headers: [RecordHeader]

    public init(topic: String, key: [UInt8]?, value: [UInt8]?, headers: [RecordHeader] = []) {
        self.topic = topic
        self.key = key
        self.value = value
        self.headers = headers
    }

    public init(topic: String, key: String, value: String, headers: [RecordHeader] = []) {
        self.init(topic: topic, key: Array(key.utf8), value: Array(value.utf8), headers: headers)
    }

    public var keyText: String? { key.map { String(decoding: $0, as: UTF8.self) } }
    public var valueText: String? { value.map { String(decoding: $0, as: UTF8.self) } }
}

/// A record written to a Kafka egress topic.
public typealias EgressRecord = TopicRecord
/// A record read from an ingress topic, before it becomes an invocation.
public typealias IngressRecord = TopicRecord

public struct RecordHeader: Hashable, Sendable {
    public var key: String
    public var value: [UInt8]

    public init(key: String, value: [UInt8]) {
        self.key = key
        self.value = value
    }
}

/// What an invocation asks the runtime to do besides changing its own state. The runtime
/// performs all of an invocation's effects, or (when it fails) none.
public enum Effect: Hashable, Sendable {
    case send(to: Address, message: Message)
    /// Sent after `delayMilliseconds`; a later `cancelDelayed` with the same token (from the same
    /// address) cancels it while it is pending.
    case sendDelayed(to: Address, message: Message, delayMilliseconds: Int64, cancellationToken: String?)
    case cancelDelayed(cancellationToken: String)
    case egress(EgressRecord)
}
