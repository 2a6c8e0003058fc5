import Metrics
import Runtime

/// Transactions by outcome, timeouts and deadlocks, from each epoch's counts (`TransactionStatistics`).
struct TransactionMetrics: Sendable {
    private let committed, failed, retryable, timedOut, deadlocks: Counter
    private let detection: Timer
    private let lockWait: Timer

    init(application: String, factory: any MetricsFactory) {
        let outcome = { (name: String) in
            Counter(label: "statefun_transactions_total", dimensions: [("application", application), ("outcome", name)],
                    factory: factory)
        }
        committed = outcome("committed")
        failed = outcome("failed")
        retryable = outcome("retryable")
        timedOut = Counter(label: "statefun_transaction_timeouts_total", dimensions: [("application", application)], factory: factory)
        let dimensions = [("application", application)]
        deadlocks = Counter(label: "statefun_deadlocks_total", dimensions: dimensions, factory: factory)
        detection = Timer(label: "statefun_deadlock_detection_seconds", dimensions: dimensions, factory: factory)
        lockWait = Timer(label: "statefun_lock_wait_seconds", dimensions: dimensions, factory: factory)
    }

    func record(_ counts: TransactionStatistics) {
        for (counter, count) in [(committed, counts.committed), (failed, counts.failed), (retryable, counts.retryableAborts),
                                 (timedOut, counts.timeouts), (deadlocks, counts.deadlocks)] where count > 0 {
            counter.increment(by: count)
        }
        for milliseconds in counts.detectionLatencies { detection.recordMilliseconds(milliseconds) }
        for milliseconds in counts.lockWaits { lockWait.recordMilliseconds(milliseconds) }
    }
}

/// Remote functions' calls: latency (retries included), batch sizes, and calls that failed for good.
struct RemoteMetrics: Sendable {
    private let latency: Timer
    private let batchSize: Recorder
    private let failures: Counter
    private let retries: Counter

    init(application: String, factory: any MetricsFactory) {
        let dimensions = [("application", application)]
        latency = Timer(label: "statefun_remote_call_seconds", dimensions: dimensions, factory: factory)
        batchSize = Recorder(label: "statefun_remote_batch_invocations", dimensions: dimensions, factory: factory)
        failures = Counter(label: "statefun_remote_call_failures_total", dimensions: dimensions, factory: factory)
        retries = Counter(label: "statefun_remote_call_retries_total", dimensions: dimensions, factory: factory)
    }

    func record(_ call: RemoteCall, _ outcome: RemoteOutcome, tries: Int, after duration: Duration) {
        latency.record(duration: duration)
        batchSize.record(call.request.invocations.count)
        if tries > 1 { retries.increment(by: tries - 1) }
        if case .failed = outcome { failures.increment() }
    }
}
