import Metrics
import Runtime

/// Transactions by outcome and deadlocks, from each epoch's counts (`TransactionStatistics`).
struct TransactionMetrics: Sendable {
    private let committed, failed, retryable, timedOut, deadlocks: Counter
    private let detection: Timer

    init(application: String) {
        let outcome = { (name: String) in
            Counter(label: "statefun_transactions_total", dimensions: [("application", application), ("outcome", name)])
        }
        committed = outcome("committed")
        failed = outcome("failed")
        retryable = outcome("retryable")
        timedOut = outcome("timed_out")
        deadlocks = Counter(label: "statefun_deadlocks_total", dimensions: [("application", application)])
        detection = Timer(label: "statefun_deadlock_detection_seconds", dimensions: [("application", application)])
    }

    func record(_ counts: TransactionStatistics) {
        for (counter, count) in [(committed, counts.committed), (failed, counts.failed), (retryable, counts.retryableAborts),
                                 (timedOut, counts.timeouts), (deadlocks, counts.deadlocks)] where count > 0 {
            counter.increment(by: count)
        }
        for milliseconds in counts.detectionLatencies { detection.recordMilliseconds(milliseconds) }
    }
}

/// Remote functions' calls: latency (retries included), batch sizes, and calls that failed for good.
struct RemoteMetrics: Sendable {
    private let latency: Timer
    private let batchSize: Recorder
    private let failures: Counter
    private let retries: Counter

    init(application: String) {
        let dimensions = [("application", application)]
        latency = Timer(label: "statefun_remote_call_seconds", dimensions: dimensions)
        batchSize = Recorder(label: "statefun_remote_batch_invocations", dimensions: dimensions)
        failures = Counter(label: "statefun_remote_call_failures_total", dimensions: dimensions)
        retries = Counter(label: "statefun_remote_call_retries_total", dimensions: dimensions)
    }

    func record(_ call: RemoteCall, _ outcome: RemoteOutcome, tries: Int, after duration: Duration) {
        latency.record(duration: duration)
        batchSize.record(call.request.invocations.count)
        if tries > 1 { retries.increment(by: tries - 1) }
        if case .failed = outcome { failures.increment() }
    }
}
