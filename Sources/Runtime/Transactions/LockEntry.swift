import StatefulFunctions

/// A transaction holding an address's lock; its prepared changes apply on commit.
struct LockHolder: Sendable {
    var request: PrepareRequest
    var writes: [StateWrite]
    var effects: [Effect]
}

/// Something waiting for an address's lock, in arrival order.
enum LockWaiter: Sendable {
    case prepare(PrepareRequest)
    /// A message (or a saga step) that runs once nobody holds the lock.
    case message(caller: Address?, payload: Payload, origin: InvocationOrigin)
}

/// The strict 2PL state of one participant address: who holds its lock and who waits.
/// It exists only while the address is locked or has waiters.
struct LockEntry: Sendable {
    var holders: [LockHolder] = []
    var waiters: [LockWaiter] = []
    /// Per waiting transaction, whom it waits for, as deadlock detection last saw it. Not
    /// checkpointed: after recovery the edges are found again.
    var edges: [TransactionRef: WaitEdge] = [:]

    var isFree: Bool { holders.isEmpty && waiters.isEmpty }

    /// Whether `request`, at the head of the queue, may take the lock now.
    func canGrant(_ request: PrepareRequest) -> Bool {
        holders.isEmpty || (request.readOnly && holders.allSatisfy(\.request.readOnly))
    }

    /// The transactions the waiting transaction `ref` waits for: the nearest waiting
    /// transaction ahead of it (the queue is FIFO), or else the holders.
    func blockers(of ref: TransactionRef) -> [WaitingTransaction]? {
        guard let position = waiterIndex(ref) else { return nil }
        for index in stride(from: position - 1, through: 0, by: -1) {
            if case .prepare(let ahead) = waiters[index] { return [ahead.waiting] }
        }
        return holders.map(\.request.waiting)
    }

    func holderIndex(_ ref: TransactionRef) -> Int? { holders.firstIndex { $0.request.ref == ref } }

    func waiterIndex(_ ref: TransactionRef) -> Int? {
        waiters.firstIndex { if case .prepare(let request) = $0 { request.ref == ref } else { false } }
    }

    func knows(_ ref: TransactionRef) -> Bool { holderIndex(ref) != nil || waiterIndex(ref) != nil }
}

/// Since when a waiting transaction waits for `blockers`.
struct WaitEdge: Sendable {
    var blockers: [TransactionRef]
    var since: Int64
}

/// Where an invocation came from, spelled out only for a dead letter.
enum InvocationOrigin: Sendable {
    case record(topic: String, offset: Int64)
    case function(Address?)
    case timer(Address)
}
