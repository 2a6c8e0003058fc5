import Histogram
import Runtime

/// The transactions a worker's partitions ran since it started: counts, and deadlock detection
/// latencies in a histogram whose size does not grow with their number.
public struct TransactionTotals: Sendable {
    /// Committed, failed, retryable, timed out, deadlocks and cycles (no latencies or waits).
    public private(set) var counts = TransactionStatistics()
    /// Per deadlock, milliseconds from the wait that closed the cycle to the victim's abort.
    public private(set) var detectionMilliseconds = Histogram<UInt64>(highestTrackableValue: 3_600_000,
                                                                      numberOfSignificantValueDigits: .three)

    mutating func add(_ epoch: TransactionStatistics) {
        var counted = epoch
        counted.detectionLatencies = []
        counted.lockWaits = []
        counts.add(counted)
        for latency in epoch.detectionLatencies { _ = detectionMilliseconds.record(UInt64(max(0, latency))) }
    }
}
