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
    /// When each waiting prepare joined the queue, for the lock-wait statistics. Not
    /// checkpointed: a wait that spans a recovery is not measured.
    var queuedAt: [TransactionRef: Int64] = [:]

    var isFree: Bool { holders.isEmpty && waiters.isEmpty }

    /// Whether `request`, at the head of the queue, may take the lock now.
    func canGrant(_ request: PrepareRequest) -> Bool {
        holders.isEmpty || (request.readOnly && holders.allSatisfy(\.request.readOnly))
    }

    /// Each waiting transaction, in queue order, with the transactions it waits for: the
    /// nearest waiting transaction ahead of it (the queue is FIFO), or else the holders.
    func waitsFor() -> [(waiter: PrepareRequest, blockers: [WaitingTransaction])] {
        var edges: [(waiter: PrepareRequest, blockers: [WaitingTransaction])] = []
        var ahead: WaitingTransaction?
        for case .prepare(let request) in waiters {
            edges.append((request, ahead.map { [$0] } ?? holders.map(\.request.waiting)))
            ahead = request.waiting
        }
        return edges
    }

    func holderIndex(_ ref: TransactionRef) -> Int? { holders.firstIndex { $0.request.ref == ref } }

    func waiterIndex(_ ref: TransactionRef) -> Int? {
        waiters.firstIndex { if case .prepare(let request) = $0 { request.ref == ref } else { false } }
    }

    func knows(_ ref: TransactionRef) -> Bool { holderIndex(ref) != nil || waiterIndex(ref) != nil }
}

/// The queue rules of strict 2PL, as answers the participant acts on: they decide, the
/// participant runs the invocations and records the changes.
extension LockEntry {
    enum Admission: Equatable {
        /// Run the prepare now; it holds the lock if it votes yes.
        case grant
        /// Queue it.
        case wait
        /// A repeat of a prepare already holding or waiting.
        case ignore
    }

    /// What becomes of a prepare that arrives: granted only if nobody waits ahead of it (the
    /// queue is FIFO) and the lock is free, or shared among read-only requests.
    func admission(of request: PrepareRequest) -> Admission {
        if knows(request.ref) { return .ignore }
        return waiters.isEmpty && canGrant(request) ? .grant : .wait
    }

    /// The waiter at the head of the queue if it may run now: a message once nobody holds the
    /// lock, a prepare once it can be granted.
    var admissibleHead: LockWaiter? {
        guard let head = waiters.first else { return nil }
        switch head {
        case .message: return holders.isEmpty ? head : nil
        case .prepare(let request): return canGrant(request) ? head : nil
        }
    }

    enum Release: Equatable {
        /// The holder at this index ends: apply its changes on commit, drop them on abort.
        case holder(Int)
        /// The waiting prepare at this index is withdrawn.
        case waiter(Int)
        /// Nothing of the transaction is here.
        case none
    }

    /// What a decision of `ref` releases. A commit only ever concerns a holder (every
    /// participant voted yes); an abort also withdraws a waiting prepare.
    func release(_ ref: TransactionRef, commit: Bool) -> Release {
        if let index = holderIndex(ref) { return .holder(index) }
        if !commit, let index = waiterIndex(ref) { return .waiter(index) }
        return .none
    }
}

/// One change of a lock entry. Replayed in order on the entry as it was, an epoch's changes
/// give the entry as it is (indices refer to the entry at the time of the change).
enum LockChange: Sendable {
    case appendWaiter(LockWaiter)
    case removeWaiter(Int)
    case appendHolder(LockHolder)
    case removeHolder(Int)
}

extension LockEntry {
    /// Whether `change` fits this entry (checked on changes read from a checkpoint).
    func accepts(_ change: LockChange) -> Bool {
        switch change {
        case .appendWaiter, .appendHolder: true
        case .removeWaiter(let index): waiters.indices.contains(index)
        case .removeHolder(let index): holders.indices.contains(index)
        }
    }

    mutating func apply(_ change: LockChange) {
        switch change {
        case .appendWaiter(let waiter): waiters.append(waiter)
        case .removeWaiter(let index): waiters.remove(at: index)
        case .appendHolder(let holder): holders.append(holder)
        case .removeHolder(let index): holders.remove(at: index)
        }
    }
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
