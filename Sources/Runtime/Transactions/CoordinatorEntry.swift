import StatefulFunctions

/// A request waiting for its coordinator address to finish the transaction before it.
struct QueuedRequest: Sendable {
    var caller: Address?
    var request: Message
}

/// The transactions of one coordinator address: the running one and those queued behind it.
struct CoordinatorEntry: Sendable {
    var active: ActiveTransaction?
    var queue: [QueuedRequest] = []

    var isIdle: Bool { active == nil && queue.isEmpty }
}

/// A running transaction, as its coordinator tracks it.
struct ActiveTransaction: Sendable {
    var ref: TransactionRef
    var coordinator: Address
    var priority: TransactionPriority
    var transactionProtocol: TransactionProtocol
    var caller: Address?
    var request: Message
    var invocations: [TransactionInvocation]
    /// 2PC: its participants, one per distinct address, and their votes.
    var votes = TwoPhaseVotes(participants: [])
    /// Saga: its steps, one per invocation.
    var saga = SagaSteps(stageStarts: [0], compensable: [])
    var results: [Message?]
    /// Why it failed, once a participant said no or a step failed.
    var failure: TransactionFailure?

    var id: String { ref.id.description }

    /// Saga: which steps have a compensation, in plan order.
    var compensable: [Bool] { invocations.map { $0.compensation != nil } }
}
