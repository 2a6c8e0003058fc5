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
    /// The part of a transaction it runs, if any: its coordinator hears how it ended.
    var transaction: RemoteTransactionPart?

    var step: RemoteStep? { if case .step(let step)? = transaction { step } else { nil } }
}

/// What a remote invocation does for a transaction. Such invocations go in batches of their
/// own, so that the outcome of a batch is the outcome of one step or one prepare.
enum RemoteTransactionPart: Sendable, Equatable {
    /// A saga step or compensation.
    case step(RemoteStep)
    /// One of the invocations of a 2PC prepare holding the address's lock: its answer becomes
    /// the prepared changes and the vote.
    case prepare(TransactionRef)
}

/// A saga step or compensation run by a remote function. It goes in a batch of its own, so
/// that its success or failure is its own.
struct RemoteStep: Sendable, Equatable {
    var ref: TransactionRef
    var coordinator: Address
    var index: Int32
    var compensation: Bool

    /// What the coordinator hears: the step done (a remote function returns no result) or failed.
    func report(failure: TransactionFailure?) -> TransactionMessage {
        compensation ? .compensated(ref, index: index, failure: failure) : .stepDone(ref, index: index, result: nil, failure: failure)
    }
}

/// The invocations of one remote address not yet applied; the first `sent` of them are in the
/// request in flight. Checkpoint records carry each epoch's changes to the queues
/// (`RemoteQueueChange`), so that a batch in flight when the worker dies is sent again by the
/// next owner, and its answer applied once.
struct RemoteQueue: Sendable {
    var invocations: [RemoteInvocation] = []
    /// How many of `invocations`, from the first, are in the request in flight (0: none).
    var sent = 0
    /// The ticket of the request in flight.
    var ticket: UInt64 = 0

    var waiting: Int { invocations.count - sent }
}

/// How one epoch changed a remote address's queue: `removed` invocations left its head, then
/// `appended` joined its tail. In a snapshot, the whole queue (nothing removed).
struct RemoteQueueChange: Sendable {
    var address: Address
    var removed: Int
    var appended: [RemoteInvocation]

    func apply(to queue: inout RemoteQueue) {
        queue.invocations.removeFirst(min(removed, queue.invocations.count))
        queue.invocations += appended
    }
}

/// The open epoch's changes to a queue: how much of the queue it started with is left, and how
/// much of that was removed; whatever follows the rest was appended in the epoch.
struct QueueDelta {
    var baseLeft: Int
    var removed = 0
}

/// A remote function's stored state value: its typed value and when it expires.
struct RemoteValue {
    var value: TypedValue
    /// Milliseconds since the epoch; nil when it never does.
    var expiresAt: Int64?

    func isExpired(at now: Int64) -> Bool { expiresAt.map { $0 <= now } ?? false }

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
    /// Addresses whose queue changed in the open epoch, and how.
    var dirty: [Address: QueueDelta] = [:]
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

    /// Appends to the queue of `address`.
    mutating func append(_ invocation: RemoteInvocation, to address: Address) {
        let count = queues[address]?.invocations.count ?? 0
        if dirty[address] == nil { dirty[address] = QueueDelta(baseLeft: count) }
        queues[address, default: RemoteQueue()].invocations.append(invocation)
    }

    /// Removes the first `count` invocations of the queue of `address` (all, when nil).
    mutating func removeFirst(_ count: Int? = nil, of address: Address) {
        guard var queue = queues[address] else { return }
        let removed = min(count ?? queue.invocations.count, queue.invocations.count)
        var delta = dirty[address] ?? QueueDelta(baseLeft: queue.invocations.count)
        let fromBase = min(removed, delta.baseLeft)
        delta.baseLeft -= fromBase
        delta.removed += fromBase
        dirty[address] = delta
        queue.invocations.removeFirst(removed)
        queue.sent = 0
        queues[address] = queue.invocations.isEmpty ? nil : queue
    }

    /// Updates whether `address` has a full batch waiting behind the one in flight.
    mutating func checkBound(_ address: Address, bound: Int) {
        if (queues[address]?.waiting ?? 0) >= bound { overfull.insert(address) } else { overfull.remove(address) }
    }

    /// The open epoch's changes for its checkpoint record.
    mutating func takeChanges() -> [RemoteQueueChange] {
        defer { dirty = [:] }
        return dirty.map { address, delta in
            let invocations = queues[address]?.invocations ?? []
            return RemoteQueueChange(address: address, removed: delta.removed,
                                     appended: Array(invocations[min(delta.baseLeft, invocations.count)...]))
        }
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
