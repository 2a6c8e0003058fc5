import StatefulFunctions

/// A request for the worker to post to a remote function's endpoint; its answer comes back to
/// the partition through `PartitionCore.complete(_:with:now:)`.
public struct RemoteCall: Sendable {
    /// Tells this call's answer from a call made for the same address before a recovery.
    public let ticket: UInt64
    public let endpoint: RemoteEndpoint
    public let request: RemoteRequest

    public var url: String { endpoint.url(for: request.target.type) }
}

/// How a remote call ended.
public enum RemoteOutcome: Sendable {
    /// The endpoint answered with a `FromFunction` message.
    case reply(RemoteReply)
    /// No usable answer within the call timeout, retries included; the text says what happened last.
    case failed(String)
}

/// An invocation of a remote address waiting for its turn or for its batch's answer.
struct RemoteInvocation: Sendable {
    var caller: Address?
    var message: Message
    /// Where it came from, for a dead letter.
    var origin: InvocationOrigin
}

/// The invocations of one remote address not yet applied. They are part of the address's
/// checkpointed state (`RemoteQueue.stateName`), so that a batch in flight when the worker
/// dies is sent again by the next owner, and its answer applied once.
struct RemoteQueue: Sendable {
    /// Reserved state name: StateFun's SDKs accept only identifiers as state names.
    static let stateName = "@invocations"

    var invocations: [RemoteInvocation] = []
    /// How many of `invocations`, from the first, are in the request in flight (0: none).
    var sent = 0
    /// The ticket of the request in flight.
    var ticket: UInt64 = 0

    var waiting: Int { invocations.count - sent }

    func encoded() -> [UInt8] {
        var writer = ByteWriter()
        writer.write(invocations.count)
        for invocation in invocations {
            writer.write(optional: invocation.caller)
            writer.write(.message(invocation.message))
            writer.write(invocation.origin)
        }
        return writer.bytes
    }

    init() {}

    init(decoding bytes: [UInt8]) throws(ByteReader.Malformed) {
        var reader = ByteReader(bytes)
        for _ in 0..<(try reader.readCount()) {
            let caller = try reader.readOptionalAddress()
            guard case .message(let message) = try reader.readPayload() else {
                throw ByteReader.Malformed(description: "a queued remote invocation is not a message")
            }
            invocations.append(RemoteInvocation(caller: caller, message: message, origin: try reader.readOrigin()))
        }
    }
}

/// A remote function's stored state value: its typed value and when it expires.
struct RemoteValue {
    var value: TypedValue
    /// Milliseconds since the epoch; nil when it never does.
    var expiresAt: Int64?

    func cell() -> StateCell {
        var writer = ByteWriter()
        writer.write(value.typeName)
        writer.write(optional: value.value)
        writer.write(expiresAt ?? 0)
        return .encoded(writer.bytes)
    }

    init(_ value: TypedValue, expiresAt: Int64?) {
        self.value = value
        self.expiresAt = expiresAt
    }

    init(_ cell: StateCell) throws(ByteReader.Malformed) {
        guard case .encoded(let bytes) = cell else { throw ByteReader.Malformed(description: "a remote state value is not stored as bytes") }
        var reader = ByteReader(bytes)
        value = TypedValue(typeName: try reader.readString(), value: try reader.readOptionalBytes())
        let expiry = try reader.readInt64()
        expiresAt = expiry == 0 ? nil : expiry
    }
}

/// A partition's remote invocations: queues by address, the state each function type declared
/// (learnt from the endpoint, kept in memory), and the calls for the worker to make.
struct RemoteCalls {
    var queues: [Address: RemoteQueue] = [:]
    /// Addresses whose queue changed in the open epoch.
    var dirty: Set<Address> = []
    var specs: [TypeName: [RemoteStateSpec]] = [:]
    var starting: [RemoteCall] = []
    /// Addresses with a full batch or more waiting: the partition takes no ingress records meanwhile.
    var overfull: Set<Address> = []
    /// Random at first, so that no answer to a call of an earlier incarnation matches.
    private var lastTicket = UInt64.random(in: 0...(UInt64.max / 2))

    mutating func nextTicket() -> UInt64 {
        lastTicket += 1
        return lastTicket
    }

    /// Records that the queue of `address` changed, and whether it is over its bound.
    mutating func changed(_ address: Address, bound: Int) {
        dirty.insert(address)
        if (queues[address]?.waiting ?? 0) >= bound { overfull.insert(address) } else { overfull.remove(address) }
    }

    /// Declares `missing` for `type` (a spec of a name declared before replaces it).
    mutating func declare(_ missing: [RemoteStateSpec], for type: TypeName) {
        var declared = specs[type] ?? []
        for spec in missing {
            if let index = declared.firstIndex(where: { $0.name == spec.name }) { declared[index] = spec } else { declared.append(spec) }
        }
        specs[type] = declared
    }
}
