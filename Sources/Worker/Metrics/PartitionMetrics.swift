import Foundation
import Metrics

/// What a partition task reports through swift-metrics (`docs/metrics.md` lists every metric).
/// The loop counts in plain integers and `flush` hands the counts to the metrics backend once
/// per epoch, so that a record costs an integer increment whatever the backend does.
struct PartitionMetrics {
    private let dimensions: [(String, String)]
    private let factory: any MetricsFactory
    private var recordsIn: [String: Int] = [:]
    private var recordsOut: [String: Int] = [:]
    private var deadLetters: [String: Int] = [:]
    private var counters: [String: Counter] = [:]
    private let epochSize: Recorder
    private let closeInterval: Timer
    /// Shared with the tasks that wait for checkpoints and deliveries.
    let checkpointWrite: Timer
    private let outputDelay: Timer
    private let waiting: Gauge
    private let buffered: Gauge
    private let paused: Gauge
    /// Inputs processed since the last epoch closed.
    private var epochInputs = 0
    /// When the first input of the open epoch was processed.
    private var epochStarted: ContinuousClock.Instant?
    /// When the first input of each closed epoch not yet released was processed.
    private var firstInputs: [Int64: ContinuousClock.Instant] = [:]
    private var lastClose: ContinuousClock.Instant?

    init(application: String, partition: Int32, factory: any MetricsFactory) {
        dimensions = [("application", application), ("partition", "\(partition)")]
        self.factory = factory
        epochSize = Recorder(label: "statefun_epoch_inputs", dimensions: dimensions, factory: factory)
        closeInterval = Timer(label: "statefun_epoch_close_interval_seconds", dimensions: dimensions, factory: factory)
        checkpointWrite = Timer(label: "statefun_checkpoint_write_seconds", dimensions: dimensions, factory: factory)
        outputDelay = Timer(label: "statefun_output_release_seconds", dimensions: dimensions, factory: factory)
        waiting = Gauge(label: "statefun_waiting_records", dimensions: dimensions, factory: factory)
        buffered = Gauge(label: "statefun_buffered_records", dimensions: dimensions, factory: factory)
        paused = Gauge(label: "statefun_inputs_paused", dimensions: dimensions, factory: factory)
    }

    /// Records the time a partition took to recover before it ran.
    static func recovered(application: String, partition: Int32, after duration: Duration, factory: any MetricsFactory) {
        Timer(label: "statefun_recovery_seconds", dimensions: [("application", application), ("partition", "\(partition)")],
              factory: factory).record(duration: duration)
    }

    mutating func input(from topic: String) {
        recordsIn[topic, default: 0] += 1
        localMessages(1)
    }

    /// Messages from other partitions of this worker, handed over in memory (no Kafka record).
    mutating func localMessages(_ count: Int) {
        epochInputs += count
        if epochStarted == nil { epochStarted = .now }
    }

    mutating func output(to topic: String) { recordsOut[topic, default: 0] += 1 }

    mutating func deadLetter(_ reason: String) { deadLetters[reason, default: 0] += 1 }

    /// The open epoch closed as `epoch`.
    mutating func epochClosed(_ epoch: Int64, at now: ContinuousClock.Instant) {
        epochSize.record(epochInputs)
        if let lastClose { closeInterval.record(duration: now - lastClose) }
        firstInputs[epoch] = epochStarted ?? now
        (epochInputs, epochStarted, lastClose) = (0, nil, now)
    }

    /// The outputs of `epoch` went to the producer: the time since its first input.
    mutating func released(_ epoch: Int64, at now: ContinuousClock.Instant) {
        if let first = firstInputs.removeValue(forKey: epoch) { outputDelay.record(duration: now - first) }
    }

    /// Hands the counts gathered since the last flush to the backend, and sets the gauges:
    /// records waiting for admission, records buffered before the loop, paused inputs.
    mutating func flush(waiting waitingRecords: Int, backlog: InputBacklog) {
        for (topic, count) in recordsIn { counter("statefun_records_in_total", ("topic", topic)).increment(by: count) }
        for (topic, count) in recordsOut { counter("statefun_records_out_total", ("topic", topic)).increment(by: count) }
        for (reason, count) in deadLetters { counter("statefun_dead_letters_total", ("reason", reason)).increment(by: count) }
        recordsIn.removeAll(keepingCapacity: true)
        recordsOut.removeAll(keepingCapacity: true)
        deadLetters.removeAll(keepingCapacity: true)
        waiting.record(waitingRecords)
        buffered.record(backlog.pendingCount)
        paused.record(backlog.isPaused ? 1 : 0)
    }

    private mutating func counter(_ label: String, _ dimension: (String, String)) -> Counter {
        let key = "\(label)|\(dimension.1)"
        if let counter = counters[key] { return counter }
        let counter = Counter(label: label, dimensions: dimensions + [dimension], factory: factory)
        counters[key] = counter
        return counter
    }
}
