import Foundation
import Logging
import Metrics
import Runtime
import Synchronization

/// Settings of a worker. Workers with the same `applicationID` share the partitions.
public struct WorkerConfiguration: Sendable {
    /// `bootstrap.servers` of the Kafka cluster.
    public var bootstrapServers: String
    /// Names the consumer group and the internal topics (`ID-internal`, `ID-checkpoints`,
    /// `ID-dead-letters`, `ID-transactions`). Default: the application's name.
    public var applicationID: String
    /// Key partitions P: an address belongs to partition murmur2(id) mod P. Fixed for the
    /// life of an application (its topics are created with it). Default 8.
    public var partitions = 8
    /// Minimum time between two checkpoints of a partition while one is being written, in
    /// milliseconds. An epoch with changes closes at once when none of the partition's epochs is
    /// being written, so at low load nothing waits for the interval; under load, epochs grow
    /// instead of queueing (at most two are being written at once). Outputs leave a partition
    /// after its epoch is durable. Default 5 ms.
    public var checkpointIntervalMilliseconds = 5
    /// A partition writes a full snapshot every this many epochs, bounding recovery. Default 2,000.
    public var snapshotEveryEpochs = 2_000
    /// Ingress records larger than this (key + value) go to the dead-letter topic. Default 1 MB.
    public var maxRecordBytes = 1_000_000
    /// Checkpoint records are split into chunks of at most this size. Default 512 KiB.
    public var checkpointChunkBytes = 512 * 1_024
    /// A partition whose unprocessed input records exceed this stops fetching until it is down
    /// to a quarter of it, so a slow partition cannot fill the worker's memory. Default 20,000.
    public var maxBufferedRecordsPerPartition = 20_000
    /// Admission control: a partition with this many coordinators busy (a transaction running
    /// or queued) takes no new ingress records until one finishes; they wait in the buffer and
    /// then in Kafka. Under overload, requests wait before their transaction starts instead
    /// of timing out inside it. At least 1 (smaller values count as 1). Default 200.
    public var maxTransactionsPerPartition = 200
    /// A 2PC transaction not decided after this long is aborted and reported retryable. Default 10 s.
    public var transactionTimeoutMilliseconds: Int64 = 10_000
    /// A deadlock victim is restarted at most this many times, then reported retryable. Default 10.
    public var maxDeadlockRetries = 10
    /// A partition reports changed waits to the deadlock detector at most this often. Default 20 ms.
    public var deadlockDetectionIntervalMilliseconds: Int64 = 20
    /// `session.timeout.ms` of the worker's group membership: how long a worker that stopped
    /// answering (killed, paused) keeps its partitions before the group gives them to the
    /// others. Heartbeats go every third of it. Default 1,000 ms: on the local broker a
    /// rebalance costs about 3 s on top (see docs/reliability.md), and a shorter timeout is the
    /// largest part of recovering fast. A worker silent for two thirds of it (frozen, starved)
    /// may have lost its partitions and stops (see `SessionLease`). Raise it where pauses (e.g.
    /// of a VM) are longer.
    public var sessionTimeoutMilliseconds = 1_000
    /// Replication factor of topics the worker creates. Default 1.
    public var replicationFactor = 1
    /// How long outputs (egress records, messages to partitions of other workers) wait to fill
    /// a batch, in milliseconds (librdkafka's `linger.ms` of their producer; checkpoints have a
    /// producer of their own that does not wait). Fewer, larger batches cost the broker less:
    /// the local broker's fetch grows with the number of batches a partition holds. Default
    /// 20: on the local broker, fewer batches raise YCSB-T's sustained throughput (see
    /// docs/local-broker.md); at low load it adds up to 20 ms to a response.
    public var outputLingerMilliseconds = 20
    /// librdkafka properties for the worker's producers and consumers (e.g. `fetch.wait.max.ms`).
    public var kafkaProperties: [String: String] = [:]
    /// Where the worker's metrics go (`docs/metrics.md` lists them); nil: the process's
    /// `MetricsSystem.factory` as it is when the worker starts.
    public var metricsFactory: (any MetricsFactory)?
    /// Fault tests only: the process kills itself with SIGKILL as soon as the broker has a
    /// 2PC coordinator's step of this kind. nil (never) by default.
    public var crashAfter: CrashPoint?
    /// Fault tests only: one partition's task fails once, as if a checkpoint write had failed.
    /// nil (never) by default.
    public var partitionFault: PartitionFault?

    public init(bootstrapServers: String, applicationID: String) {
        self.bootstrapServers = bootstrapServers
        self.applicationID = applicationID
    }

    public var internalTopic: String { "\(applicationID)-internal" }
    public var checkpointTopic: String { "\(applicationID)-checkpoints" }
    /// Partition P holds snapshots of key partition P: the whole partition as of one epoch.
    public var snapshotTopic: String { "\(applicationID)-snapshots" }
    public var deadLetterTopic: String { "\(applicationID)-dead-letters" }
    /// One partition of marks: which epochs of the partitions of each worker are stable (see
    /// `StabilityTracker`). Recovery reads its end.
    public var stabilityTopic: String { "\(applicationID)-stability" }
    /// Compacted topic where coordinators record each transaction's progress, keyed by its id.
    public var transactionLogTopic: String { "\(applicationID)-transactions" }

    var transactionSettings: TransactionSettings {
        TransactionSettings(timeoutMilliseconds: transactionTimeoutMilliseconds, maxDeadlockRetries: maxDeadlockRetries,
                            deadlockDetectionIntervalMilliseconds: deadlockDetectionIntervalMilliseconds, logTopic: transactionLogTopic)
    }
    /// The group whose committed offsets on the snapshot topic point at each partition's latest
    /// stable snapshot.
    var snapshotGroup: String { "\(applicationID)-snapshots" }
}

/// A step of a 2PC coordinator after which a fault test kills the worker.
public enum CrashPoint: String, Sendable, CaseIterable {
    /// The transaction started: its prepares are out, no decision yet.
    case prepare
    /// The transaction was decided: its commit or abort messages are out.
    case decision

    /// Whether `item` is this step's record on the transaction log `logTopic`.
    func matches(_ item: OutboxItem, logTopic: String) -> Bool {
        struct Step: Decodable {
            var `protocol`: String
            var state: String
        }
        guard case .egress(let record, _) = item, record.topic == logTopic, let value = record.value,
              let step = try? JSONDecoder().decode(Step.self, from: Data(value)), step.protocol == "2pc"
        else { return false }
        return switch self {
        case .prepare: step.state == "started"
        case .decision: ["committed", "failed", "aborted"].contains(step.state)
        }
    }
}

/// A fault for tests: the task of `partition` fails once, right after closing its
/// `afterEpochs`-th epoch of a run, before writing it (as a failed checkpoint write would). The
/// worker then recovers the partition like after any failure.
public final class PartitionFault: Sendable {
    public let partition: Int32
    public let afterEpochs: Int
    private let fired = Atomic<Bool>(false)

    public init(partition: Int32, afterEpochs: Int) {
        self.partition = partition
        self.afterEpochs = afterEpochs
    }

    /// Whether the fault has happened.
    public var hasFired: Bool { fired.load(ordering: .acquiring) }

    /// True exactly once: for `partition` once it closed `afterEpochs` epochs.
    func fires(partition: Int32, closedEpochs: Int) -> Bool {
        partition == self.partition && closedEpochs >= afterEpochs
            && fired.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
    }
}
