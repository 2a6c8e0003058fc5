/// Limits of the transaction protocols, the same for every coordinator of an application.
public struct TransactionSettings: Sendable {
    /// A 2PC transaction not decided after this long is aborted and reported retryable.
    public var timeoutMilliseconds: Int64
    /// A deadlock victim is restarted at most this many times, then reported retryable.
    public var maxDeadlockRetries: Int
    /// A compensation that failed is sent again after this long, until it succeeds.
    public var compensationRetryMilliseconds: Int64
    /// A partition reports its changed wait-for edges to the deadlock detector at most this
    /// often: the longest a new deadlock waits before the detector sees it.
    public var deadlockDetectionIntervalMilliseconds: Int64
    /// Coordinators record each step of their transactions on this topic (keyed by transaction
    /// id), or nowhere when nil.
    public var logTopic: String?

    public init(timeoutMilliseconds: Int64 = 10_000, maxDeadlockRetries: Int = 10, compensationRetryMilliseconds: Int64 = 100,
                deadlockDetectionIntervalMilliseconds: Int64 = 20, logTopic: String? = nil) {
        self.timeoutMilliseconds = timeoutMilliseconds
        self.maxDeadlockRetries = maxDeadlockRetries
        self.compensationRetryMilliseconds = compensationRetryMilliseconds
        self.deadlockDetectionIntervalMilliseconds = deadlockDetectionIntervalMilliseconds
        self.logTopic = logTopic
    }
}

/// Counts of one partition's transactions since it started (or since they were last taken).
public struct TransactionStatistics: Sendable {
    public var committed = 0
    public var failed = 0
    public var retryableAborts = 0
    /// Deadlock cycles broken (one victim each).
    public var deadlocks = 0
    /// Cycles the detector found and chose a victim for (a victim already aborted is not counted in `deadlocks`).
    public var cyclesFound = 0
    public var timeouts = 0
    /// Per deadlock, milliseconds from the wait that closed the cycle to the victim's abort.
    public var detectionLatencies: [Int64] = []
    /// Per prepare that waited for a lock, milliseconds from joining the queue to the grant.
    public var lockWaits: [Int64] = []

    public init() {}

    public mutating func add(_ other: TransactionStatistics) {
        committed += other.committed
        failed += other.failed
        retryableAborts += other.retryableAborts
        deadlocks += other.deadlocks
        cyclesFound += other.cyclesFound
        timeouts += other.timeouts
        detectionLatencies += other.detectionLatencies
        lockWaits += other.lockWaits
    }
}
