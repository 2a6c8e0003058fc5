import StatefulFunctions

/// One attempt of a transaction. The id is the coordinator's message id at the start; a
/// deadlock victim restarts with the same id and the next attempt, so that late answers to an
/// earlier attempt are recognised and dropped.
public struct TransactionRef: Hashable, Sendable {
    public var id: MessageID
    public var attempt: Int32
}

/// Age of a transaction for choosing deadlock victims: the older wins. Kept across retries, so
/// a transaction that is retried often becomes the oldest and cannot starve.
public struct TransactionPriority: Comparable, Hashable, Sendable {
    public var startedAt: Int64
    public var id: MessageID

    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.startedAt, lhs.id.partition, lhs.id.epoch, lhs.id.index) < (rhs.startedAt, rhs.id.partition, rhs.id.epoch, rhs.id.index)
    }
}

/// A 2PC participant's answer to a prepare.
public enum Vote: Sendable {
    /// Prepared; the replies of its invocations, in the order they were sent.
    case yes([Message?])
    case no(TransactionFailure)
}

/// What a prepared participant was asked to run, and by whom.
public struct PrepareRequest: Sendable {
    public var ref: TransactionRef
    public var coordinator: Address
    public var priority: TransactionPriority
    public var messages: [Message]
    public var readOnly: Bool

    var waiting: WaitingTransaction { WaitingTransaction(ref: ref, priority: priority, coordinator: coordinator) }
}

/// Messages of the transaction protocols, carried in envelopes and timers like function messages.
public enum TransactionMessage: Sendable {
    // Coordinator → participant.
    case prepare(PrepareRequest)
    case commit(TransactionRef)
    case abort(TransactionRef)
    case step(TransactionRef, coordinator: Address, index: Int32, message: Message)
    case compensate(TransactionRef, coordinator: Address, index: Int32, message: Message)
    // Participant → coordinator.
    case vote(TransactionRef, participant: Address, vote: Vote)
    /// A saga step ended: its reply, or why it failed.
    case stepDone(TransactionRef, index: Int32, result: Message?, failure: TransactionFailure?)
    case compensated(TransactionRef, index: Int32, failure: TransactionFailure?)
    // Deadlock detection.
    /// A partition's wait-for edges, to the deadlock detector.
    case waitReport(WaitReport)
    /// To the coordinator of the chosen victim of a cycle.
    case victim(TransactionRef, since: Int64)
    // Coordinator → itself, delayed.
    case timeout(TransactionRef)
    case retryCompensation(TransactionRef, index: Int32)
}

extension TransactionMessage {
    /// Deadlock detection's messages travel as signals: sooner, and losing or repeating one
    /// only delays or repeats a detection (a victim is aborted once, by attempt).
    var isSignal: Bool {
        switch self {
        case .waitReport, .victim: true
        default: false
        }
    }
}

/// What an envelope or a timer carries: a message for a function, or a protocol message.
public enum Payload: Sendable {
    case message(Message)
    case transaction(TransactionMessage)
}
