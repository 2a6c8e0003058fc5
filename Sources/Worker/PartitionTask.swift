import Dispatch
import Foundation
import Kafka
import Logging
import Metrics
import Runtime
import StatefulFunctions
import Synchronization

/// Where a partition task sends what leaves it: other local partitions, or Kafka.
protocol PartitionRouter: Sendable {
    /// The running task of `partition` in this worker, if any.
    func localTask(_ partition: Int32) -> PartitionTask?
}

/// Runs one key partition: recovers it from its checkpoint log, then processes its mailbox in
/// epochs. Messages to partitions of this worker are handed over at once; what leaves the
/// worker (outputs, messages to other workers, acknowledgements, snapshot offsets) waits until
/// its epoch is recorded stable (`StabilityTracker`), which needs its checkpoint durable. The
/// next epochs are processed while earlier ones are being written.
final class PartitionTask: Sendable {
    enum Event: Sendable {
        case records([FetchedRecord])
        /// Messages handed over by a partition of this worker, from its epoch `from`.
        case local([Envelope], from: EpochRef)
        /// Signals of a partition of this worker (see `Envelope.isSignal`): no dependency.
        case signals([Envelope])
        /// A remote function's endpoint answered `call` (or never did, within its timeout).
        case remote(RemoteCall, RemoteOutcome)
        /// A receiver partition of this worker recorded stable `count` of the messages of this
        /// partition's `incarnation` and `epoch`.
        case acknowledged(incarnation: UInt64, epoch: Int64, count: Int)
        /// The broker has `count` of the epoch's outputs; its egress and dead-letter records at
        /// `offsets` (the highest per partition).
        case delivered(epoch: Int64, count: Int, offsets: [OutputPartition: Int64])
        /// The epoch's checkpoint is durable.
        case durable(epoch: Int64)
        /// The snapshot of the partition after `epoch` is written at `offset` of the snapshot
        /// topic (nil: it could not be; a later one will be).
        case snapshot(epoch: Int64, offset: Int64?)
        /// Epochs through `through` are recorded stable; the stability log holds this
        /// incarnation's marks from `offset` on.
        case stable(through: Int64, offset: Int64)
        case failed(String)
        /// The wake set for this instant (milliseconds of the monotonic clock) is due.
        case tick(UInt64)
        /// Finish: checkpoint what is open, wait until it is durable, then call back.
        case stop(@Sendable () -> Void)
    }

    struct Dependencies: Sendable {
        let configuration: WorkerConfiguration
        let application: Application
        let producer: KafkaProducer
        let log: CheckpointLog
        let stability: StabilityLog
        let router: any PartitionRouter
        let partitionOf: @Sendable (Address) -> Int32
        let logger: Logger
        /// Called once recovered, with the input positions to read from; throws when the
        /// inputs cannot be read from there.
        let recovered: @Sendable (Int32, [String: Int64]) async throws -> Void
        /// Resumes the partition's inputs after a pause for backlog.
        let resumeInputs: @Sendable (Int32) -> Void
        /// Pauses the partition's inputs (when its task failed: the next one positions them).
        let pauseInputs: @Sendable (Int32) -> Void
        /// Fetches an input again from an offset (records before one that came were skipped).
        let refetch: @Sendable (TopicPartitionOffset) async -> Void
        /// Receives the partition's transaction counts of each epoch.
        let countTransactions: @Sendable (TransactionStatistics) -> Void
        /// Posts remote functions' batches.
        let remote: RemoteClient
        let metricsFactory: any MetricsFactory
    }

    let partition: Int32
    let mailbox = Mailbox<Event>()
    /// Whether other partitions of this worker hand messages to it in memory: once it has
    /// recovered and positioned its inputs. Until then they go through the internal topic, so
    /// that a recovery that fails loses none of them.
    let acceptsLocalMessages = Atomic<Bool>(false)
    /// Input records handed to this task and not yet processed; the dispatcher pauses the
    /// partition's inputs above a limit, the task resumes them once it has caught up.
    let backlog: InputBacklog
    /// The next offset to read of each input, as of the last epoch closed (for lag metrics).
    let positions = Mutex<[String: Int64]>([:])
    var publishedPositions: [String: Int64] { positions.withLock { $0 } }
    let dependencies: Dependencies

    init(partition: Int32, dependencies: Dependencies) {
        self.partition = partition
        self.dependencies = dependencies
        backlog = InputBacklog(high: dependencies.configuration.maxBufferedRecordsPerPartition)
    }

    /// Asks the task to checkpoint and stop; `done` runs once when it has, or at once when it
    /// has already ended. (A stop posted just as the task closes its mailbox is both refused
    /// and drained by the task, so `done` is guarded to run only once.)
    func requestStop(_ done: @escaping @Sendable () -> Void) {
        let pending = Atomic<Bool>(true)
        let once: @Sendable () -> Void = {
            if pending.exchange(false, ordering: .acquiringAndReleasing) { done() }
        }
        if !mailbox.post(.stop(once)) { once() }
    }

    /// Recovers and runs until stopped. Throws when its inputs cannot be positioned or a
    /// checkpoint cannot be written; the caller then starts the partition over from its log.
    func run() async throws {
        // Whoever asked this task to stop is told when it ends, however it ends.
        var stopCallbacks: [@Sendable () -> Void] = []
        defer {
            mailbox.close()
            for case .stop(let done) in mailbox.drain() { done() }
            stopCallbacks.forEach { $0() }
        }
        let clock = ContinuousClock(), started = clock.now
        // A recovery after a failure must see every mark of the incarnations before it.
        await dependencies.stability.quiesce()
        let quiesced = clock.now
        let recovered = try await dependencies.log.recover(partition, application: dependencies.application,
                                                           partitionOf: dependencies.partitionOf)
        let read = clock.now
        let found = await findDelivered(recovered.core)
        let looked = clock.now
        let incarnation = UInt64.random(in: 1...UInt64.max)
        let mailbox = mailbox
        dependencies.stability.register(partition, incarnation: incarnation, recovered: recovered.head.epoch,
                                        offset: recovered.stabilityOffset) { notice in
            switch notice {
            case .stable(let through, let offset): mailbox.post(.stable(through: through, offset: offset))
            case .failed(let reason): mailbox.post(.failed(reason))
            }
        }
        // A failure once other partitions could hand it messages fails them all: they may
        // depend on its lost epochs, and messages they handed it in memory are lost with it;
        // recovering, they send again what it did not acknowledge.
        var clean = false
        defer { dependencies.stability.end(partition, incarnation: incarnation, clean: clean) }
        var loop = Loop(task: self, core: recovered.core, incarnation: incarnation, recovered: recovered)
        positions.withLock { $0 = recovered.core.positions }
        loop.core.resumeRemoteCalls(now: Loop.nowMilliseconds())
        do {
            try await withThrowingDiscardingTaskGroup { group in
                loop.releaseRecovered(skipping: found, group: &group)
                try await dependencies.recovered(partition, loop.core.positions)
                acceptsLocalMessages.store(true, ordering: .releasing)
                PartitionMetrics.recovered(application: dependencies.configuration.applicationID, partition: partition,
                                           after: clock.now - started, factory: dependencies.metricsFactory)
                dependencies.logger.info("partition running", metadata: [
                    "statefun.partition": "\(partition)", "statefun.recovery_ms": "\((clock.now - started).wholeMilliseconds)",
                    "statefun.quiesce_ms": "\((quiesced - started).wholeMilliseconds)", "statefun.log_ms": "\((read - quiesced).wholeMilliseconds)",
                    "statefun.delivered_ms": "\((looked - read).wholeMilliseconds)", "statefun.seek_ms": "\((clock.now - looked).wholeMilliseconds)",
                ])
                defer { group.cancelAll() }
                try await loop.run(group: &group)
            }
        } catch {
            stopCallbacks = loop.stopSignals
            clean = !acceptsLocalMessages.load(ordering: .acquiring)
            throw error
        }
        clean = true
    }

    /// The recovered outputs the broker already has (see `DeliveredOutputs`); none when they
    /// cannot be looked for, so that all are released again.
    private func findDelivered(_ core: PartitionCore) async -> [MessageID: (OutputPartition, Int64)] {
        let outbox = core.unacknowledgedOutbox
        guard outbox.contains(where: { $0.items.contains(where: \.isExternal) }) else { return [:] }
        let logger = dependencies.logger
        do {
            let found = try await DeliveredOutputs.find(outbox, floors: core.outputFloors, configuration: dependencies.configuration,
                                                        logger: logger)
            logger.info("recovered outputs the broker already has are not released again", metadata: [
                "statefun.partition": "\(partition)", "statefun.found": "\(found.count)",
                "statefun.outputs": "\(outbox.reduce(0) { $0 + $1.items.count(where: \.isExternal) })",
            ])
            return found
        } catch {
            logger.warning("cannot look for recovered outputs on the broker: releasing them all again", metadata: [
                "statefun.partition": "\(partition)", "kafka.error": "\(error)",
            ])
            return [:]
        }
    }

    /// The loop's state; owned by `run`, never shared.
    struct Loop {
        let task: PartitionTask
        var core: PartitionCore
        /// Closed epochs from sealing to release.
        var epochs: EpochPipeline
        var incarnation: UInt64 { epochs.incarnation }
        /// Messages for other partitions not handed over when sent: they go with the epoch's
        /// outputs once it is stable.
        var unposted: Set<MessageID> = []
        /// The latest epoch handed to the checkpoint log; the next one is handed over after it.
        var lastEnqueue: Task<CheckpointWrite, any Error>?
        /// The latest outputs handed to the producer; the next ones are handed over after them.
        var lastRelease: Task<PendingDelivery, any Error>?
        var lastClose: UInt64 = 0
        /// Epochs closed in this run.
        var closedEpochs = 0
        var lastSnapshotEpoch: Int64 = 0
        /// A snapshot is being written: the next waits for it.
        var snapshotInFlight = false
        /// A snapshot written, to commit once its epoch is stable.
        var snapshotToCommit: (epoch: Int64, offset: Int64)?
        /// The one pending wake-up. An earlier one replaces it (cancelled, so sleepers do not
        /// pile up: a task group's cost per finished child grows with its live children).
        var wake: (at: UInt64, sleeper: Task<Void, Never>)?
        var stopSignals: [@Sendable () -> Void] = []
        /// When the first stop request came; a stop that takes long is logged once.
        var stopRequested: ContinuousClock.Instant?
        var stopReported = false
        var outstandingReleases = 0
        /// Records handed to the task and not yet taken (see `admitUnread`).
        var unread = BatchQueue<FetchedRecord>()
        /// Ingress records waiting for admission (from `nextWaiting` on), in the order read.
        var waiting: [FetchedRecord] = []
        var nextWaiting = 0
        /// Records after a gap in an input's offsets are not processed: the input is fetched
        /// again from the gap (see `OffsetGapGuard`).
        var gaps = OffsetGapGuard()
        var refetches: [(TopicPartitionOffset, at: ContinuousClock.Instant)] = []
        var metrics: PartitionMetrics

        var deps: Dependencies { task.dependencies }
        var configuration: WorkerConfiguration { deps.configuration }

        init(task: PartitionTask, core: PartitionCore, incarnation: UInt64, recovered: CheckpointLog.Recovered) {
            self.task = task
            self.core = core
            epochs = EpochPipeline(partition: task.partition, incarnation: incarnation, recovered: recovered.head,
                                   stabilityOffset: recovered.stabilityOffset)
            lastSnapshotEpoch = core.epoch - 1
            metrics = PartitionMetrics(application: task.dependencies.configuration.applicationID, partition: task.partition,
                                       factory: task.dependencies.metricsFactory)
        }

        /// Records taken per turn of the loop. Between turns the loop closes the epoch when
        /// due and releases those that became stable, so under load epochs are written while
        /// the rest of a fetch is processed. Large enough that a turn's own work (hand-overs,
        /// the checks for timers and closes) stays small beside the records'.
        static let recordsPerTurn = 64

        static func nowMilliseconds() -> Int64 { Int64(Date().timeIntervalSince1970 * 1_000) }
        static func monotonicMilliseconds() -> UInt64 { DispatchTime.now().uptimeNanoseconds / 1_000_000 }
    }
}
