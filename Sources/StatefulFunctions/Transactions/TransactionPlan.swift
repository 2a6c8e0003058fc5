/// How a coordinator runs its plan.
public enum TransactionProtocol: String, Sendable, Codable {
    /// Serializable: two-phase commit over strict two-phase locking. All invocations apply, or none.
    case twoPhaseCommit = "2pc"
    /// Steps run without locks, stage after stage (see `TransactionPlan`); after a failed step
    /// the completed steps are compensated, the latest stage first.
    case saga
}

/// One invocation of a transaction: a message to a participant, an ordinary function.
public struct TransactionInvocation: Sendable {
    /// The participant to invoke.
    public var address: Address
    /// The message the participant receives.
    public var message: Message
    /// 2PC: the invocation only reads, so it takes a shared lock. Writing state then is a "no" vote.
    public var readOnly: Bool
    /// Saga: the message sent to the same address to undo a completed step.
    public var compensation: Message?

    /// A 2PC invocation.
    public init(_ address: Address, _ message: Message, readOnly: Bool = false) {
        self.address = address
        self.message = message
        self.readOnly = readOnly
        compensation = nil
    }

    /// A saga step and its compensation.
    public init(_ address: Address, _ message: Message, compensation: Message) {
        self.address = address
        self.message = message
        readOnly = false
        self.compensation = compensation
    }
}

/// What a coordinator returns for a request: the invocations that make up the transaction.
/// Side effects that depend on the outcome run in the coordinator's outcome handler.
///
/// A saga runs its plan in stages: the steps of a stage run in parallel, and a stage starts
/// once every step of the one before completed. When a step fails, no later stage starts, and
/// the completed steps are compensated stage by stage, the latest first (the steps of one
/// stage in parallel). A transfer that withdraws in its first stage and deposits in its second
/// never deposits money it could not withdraw, so no compensation can take an account below
/// zero. A one-stage saga runs every step at once: faster, but a step's effect is visible to
/// others before a sibling step fails, and its compensation may then undo an effect that was
/// already used (a deposit spent before it is taken back). 2PC runs every invocation at once,
/// whatever the stages, since nothing applies before all voted yes.
public struct TransactionPlan: Sendable {
    /// The invocations of the transaction, stage after stage; `TransactionOutcome.results`
    /// follows this order.
    public var invocations: [TransactionInvocation]
    /// Where each stage starts in `invocations`: `[0]` for one stage.
    public var stageStarts: [Int]

    /// A plan of these invocations, in one stage.
    public init(_ invocations: [TransactionInvocation]) {
        self.invocations = invocations
        stageStarts = [0]
    }

    /// A plan of these stages, run one after the other by a saga. Empty stages are left out.
    public init(stages: [[TransactionInvocation]]) {
        invocations = []
        stageStarts = []
        for stage in stages where !stage.isEmpty {
            stageStarts.append(invocations.count)
            invocations += stage
        }
        if stageStarts.isEmpty { stageStarts = [0] }
    }
}

/// How a transaction ended, handed to the coordinator's outcome handler.
public struct TransactionOutcome: Sendable {
    /// Whether the transaction committed, failed, or aborted in a way worth retrying.
    public enum Status: Sendable, Hashable {
        /// 2PC: every invocation applied. Saga: every step completed.
        case committed
        /// A participant failed explicitly (threw) or could not run; 2PC: nothing applied;
        /// saga: every completed step was compensated.
        case failed(TransactionFailure)
        /// 2PC only: aborted for a reason that may pass (deadlock retries used up, timeout);
        /// nothing applied, the request may be retried.
        case retryableAbort(reason: String)
    }

    /// How the transaction ended.
    public var status: Status
    /// The request the plan was made from.
    public var request: Message
    /// What each invocation replied (`context.reply`), in plan order; nil where it did not reply
    /// or did not complete.
    public var results: [Message?]
    /// Stable id of the transaction, also the key of its records in the transaction log topic.
    public var transactionID: String
    /// How many times the transaction was started (more than one after deadlock retries).
    public var attempts: Int

    /// An outcome of these parts. The runtime makes outcomes; tests of an outcome handler can make
    /// their own.
    public init(status: Status, request: Message, results: [Message?], transactionID: String, attempts: Int) {
        self.status = status
        self.request = request
        self.results = results
        self.transactionID = transactionID
        self.attempts = attempts
    }
}

/// Makes the plan for a request. May read and write the coordinator's own state.
public typealias PlanBody = @Sendable (Context, Message) throws -> TransactionPlan
/// Runs when a transaction ends: replies, egress records and messages that report the outcome.
/// `context.caller` is the caller of the request.
public typealias OutcomeBody = @Sendable (Context, TransactionOutcome) throws -> Void

/// A coordinator's protocol and code.
public struct CoordinatorSpec: Sendable {
    /// The protocol the coordinator's transactions run with.
    public let transactionProtocol: TransactionProtocol
    let plan: PlanBody
    let outcome: OutcomeBody
}
