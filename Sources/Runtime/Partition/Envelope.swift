import StatefulFunctions

/// A stable id of an effect that leaves a partition: the sender partition, the epoch that
/// produced it and its index in that epoch. A repeat of an effect has the same id.
public struct MessageID: Hashable, Sendable, CustomStringConvertible {
    public var partition: Int32
    public var epoch: Int64
    public var index: Int32

    public init(partition: Int32, epoch: Int64, index: Int32) {
        self.partition = partition
        self.epoch = epoch
        self.index = index
    }

    public var description: String { "\(partition)-\(epoch)-\(index)" }
}

/// A message between addresses of different partitions.
public struct Envelope: Sendable {
    public var id: MessageID
    /// Number of this message on its channel, from the sender partition to the target's
    /// partition: 1, 2, 3, ... The receiver drops a number it has applied before.
    public var sequence: Int64
    public var target: Address
    public var source: Address?
    public var payload: Payload
    /// A signal goes out at once instead of after its epoch is durable, and is neither
    /// checkpointed nor de-duplicated: it may be lost or repeated. Only deadlock detection
    /// uses signals; it tolerates both.
    public var isSignal: Bool

    public init(id: MessageID, sequence: Int64, target: Address, source: Address?, payload: Payload, isSignal: Bool = false) {
        self.id = id
        self.sequence = sequence
        self.target = target
        self.source = source
        self.payload = payload
        self.isSignal = isSignal
    }

    /// An envelope with a message for a function.
    public init(id: MessageID, sequence: Int64, target: Address, source: Address?, message: Message) {
        self.init(id: id, sequence: sequence, target: target, source: source, payload: .message(message))
    }
}

/// The messages a partition applied from one sender partition, by sequence number: every
/// number up to `through`, and those above it that arrived early.
///
/// Messages of one channel arrive in order while the path between the two partitions stays
/// the same. When a rebalance moves the path (from Kafka to memory, say), a newer message may
/// overtake an older one still in the internal topic; both are applied, each once.
public struct ChannelMark: Sendable, Equatable {
    public var through: Int64 = 0
    public var ahead: Set<Int64> = []

    public init(through: Int64 = 0, ahead: Set<Int64> = []) {
        self.through = through
        self.ahead = ahead
    }

    /// Records `sequence` as applied; false when it was already.
    public mutating func accept(_ sequence: Int64) -> Bool {
        guard sequence != through + 1 else {
            through = sequence
            while !ahead.isEmpty, ahead.remove(through + 1) != nil { through += 1 }
            return true
        }
        return sequence > through && ahead.insert(sequence).inserted
    }
}

/// A record for the dead-letter topic: what it was, where it came from and why it was refused.
public struct DeadLetter: Sendable {
    public var reason: DeadLetterReason
    /// Where the record came from: `topic/partition/offset` or a sender address.
    public var origin: String
    public var key: [UInt8]?
    public var value: [UInt8]?

    public init(reason: DeadLetterReason, origin: String, key: [UInt8]?, value: [UInt8]?) {
        self.reason = reason
        self.origin = origin
        self.key = key
        self.value = value
    }
}

/// An effect waiting in a partition's outbox until the epoch that produced it is durable.
public enum OutboxItem: Sendable {
    case envelope(Envelope, targetPartition: Int32)
    case egress(EgressRecord, id: MessageID)
    case deadLetter(DeadLetter, id: MessageID)

    /// An egress or dead-letter record: it leaves the application.
    public var isExternal: Bool {
        if case .envelope = self { false } else { true }
    }

    public var id: MessageID {
        switch self {
        case .envelope(let envelope, _): envelope.id
        case .egress(_, let id), .deadLetter(_, let id): id
        }
    }
}
