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
    private let dependencies: Dependencies

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
    private struct Loop {
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

        static func nowMilliseconds() -> Int64 { Int64(Date().timeIntervalSince1970 * 1_000) }
        static func monotonicMilliseconds() -> UInt64 { DispatchTime.now().uptimeNanoseconds / 1_000_000 }

        /// Releases the recovered outbox again, except outputs the broker already has.
        mutating func releaseRecovered(skipping found: [MessageID: (OutputPartition, Int64)],
                                       group: inout ThrowingDiscardingTaskGroup<any Error>) {
            for (epoch, items) in core.unacknowledgedOutbox {
                let external = items.filter(\.isExternal)
                let there = external.compactMap { found[$0.id] }
                if there.isEmpty {
                    release(items, epoch: epoch, handedOver: false, group: &group)
                } else if there.count == external.count {
                    // All its outputs are there: only its messages to partitions remain.
                    core.delivered(epoch: epoch, count: there.count,
                                   offsets: Dictionary(there, uniquingKeysWith: max))
                    release(items.filter { !$0.isExternal }, epoch: epoch, handedOver: false, group: &group)
                } else {
                    // The rest's delivery marks the whole epoch delivered.
                    core.acknowledge(epoch: epoch, count: there.count)
                    release(items.filter { !$0.isExternal || found[$0.id] == nil }, epoch: epoch, handedOver: false, group: &group)
                }
            }
        }

        mutating func run(group: inout ThrowingDiscardingTaskGroup<any Error>) async throws {
            defer { wake?.sleeper.cancel() }
            // Recovered timers must fire even if no input ever arrives, and recovered remote
            // batches go out at once.
            scheduleWake()
            startRemoteCalls(group: &group)
            while true {
                let events = await task.mailbox.next()
                if events.isEmpty && task.mailbox.isClosed { return }
                let now = Self.nowMilliseconds()
                for event in events { try handle(event, now: now, group: &group) }
                if stopSignals.isEmpty, let due = core.nextTimerDue(), due <= now { core.fireTimers(now: now) }
                if stopSignals.isEmpty { admitWaiting(now: now) }
                handOverLocal()
                refetchSkipped(group: &group)
                sendSignals(group: &group)
                startRemoteCalls(group: &group)
                try maybeCloseEpoch(group: &group)
                if !stopSignals.isEmpty, epochs.notDurable == 0, outstandingReleases == 0, epochs.isEmpty, !core.hasChanges {
                    task.mailbox.close()
                    stopSignals.forEach { $0() }
                    stopSignals = []
                    return
                }
                reportSlowStop()
                scheduleWake()
            }
        }

        mutating func handle(_ event: Event, now: Int64, group: inout ThrowingDiscardingTaskGroup<any Error>) throws {
            switch event {
            case .records(let records):
                guard stopSignals.isEmpty else {
                    if task.backlog.processed(records.count) { deps.resumeInputs(task.partition) }
                    return
                }
                for record in records { admit(record, now: now) }
            case .local(let envelopes, let from):
                guard stopSignals.isEmpty else { return }
                try noteDependency(on: from)
                metrics.localMessages(envelopes.count)
                for envelope in envelopes { core.process(.envelope(envelope, position: nil), now: now) }
            case .signals(let envelopes):
                guard stopSignals.isEmpty else { return }
                for envelope in envelopes { core.process(.envelope(envelope, position: nil), now: now) }
            case .remote(let call, let outcome):
                // Stopping, the batch stays queued in the checkpoint: the next owner sends it again.
                guard stopSignals.isEmpty else { return }
                core.complete(call, with: outcome, now: now)
            case .acknowledged(let incarnation, let epoch, let count):
                if incarnation == self.incarnation { core.acknowledge(epoch: epoch, count: count) }
            case .delivered(let epoch, let count, let offsets):
                core.delivered(epoch: epoch, count: count, offsets: offsets)
                outstandingReleases -= 1
            case .durable(let epoch):
                guard let (epoch, dependencies) = epochs.durable(epoch) else { return }
                deps.stability.durable(epoch, dependencies: dependencies)
            case .snapshot(let epoch, let offset):
                snapshotInFlight = false
                if let offset { snapshotToCommit = (epoch, offset) }
                commitSnapshotIfStable(group: &group)
            case .stable(let through, let offset):
                releaseStable(epochs.stable(through: through, offset: offset), group: &group)
            case .failed(let reason):
                throw WorkerError(.checkpointFailed, "partition \(task.partition): \(reason)")
            case .tick(let at):
                if wake?.at == at { wake = nil }
            case .stop(let signal):
                stopSignals.append(signal)
                if stopRequested == nil { stopRequested = .now }
            }
        }

        /// Processes `record` now, or keeps it waiting while the partition has its maximum of
        /// transactions busy. Ingress records are taken in order (a record after a waiting one
        /// waits too); the internal topic's never wait, since busy transactions need them.
        mutating func admit(_ record: FetchedRecord, now: Int64) {
            if record.ingress != nil, waiting.count > nextWaiting || !admitsIngress {
                waiting.append(record)
                return
            }
            process(record, now: now)
            if task.backlog.processed(1) { deps.resumeInputs(task.partition) }
        }

        /// Processes waiting ingress records while transactions have finished since.
        mutating func admitWaiting(now: Int64) {
            while nextWaiting < waiting.count, admitsIngress {
                process(waiting[nextWaiting], now: now)
                nextWaiting += 1
                if task.backlog.processed(1) { deps.resumeInputs(task.partition) }
            }
            if nextWaiting == waiting.count {
                waiting.removeAll(keepingCapacity: true)
                nextWaiting = 0
            } else if nextWaiting > 4_096, nextWaiting * 2 > waiting.count {
                waiting.removeFirst(nextWaiting)
                nextWaiting = 0
            }
        }

        var admitsIngress: Bool {
            core.busyCoordinatorCount < max(1, configuration.maxTransactionsPerPartition) && !core.remoteBacklogFull
        }

        mutating func process(_ fetched: FetchedRecord, now: Int64) {
            let record = fetched.record
            switch gaps.check(record.topicPartition, offset: record.offset, expected: core.positions[record.topic]) {
            case .take: break
            case .takeAfterGap:
                deps.logger.warning("input offsets jump over a gap that stays after fetching again", metadata: [
                    "statefun.partition": "\(task.partition)", "statefun.topic": "\(record.topic)",
                    "statefun.expected": "\(core.positions[record.topic] ?? -1)", "statefun.offset": "\(record.offset)",
                ])
            case .drop: return
            case .refetch(let offset, let at):
                deps.logger.warning("records skipped by the broker's fetch: reading them again", metadata: [
                    "statefun.partition": "\(task.partition)", "statefun.topic": "\(record.topic)",
                    "statefun.expected": "\(offset)", "statefun.offset": "\(record.offset)",
                ])
                refetches.append((TopicPartitionOffset(record.topicPartition, offset: offset), at))
                return
            }
            metrics.input(from: record.topic)
            let position = InputPosition(topic: record.topic, offset: record.offset)
            if let (ingress, route) = fetched.ingress {
                core.process(.ingress(ingress, position: position, route: route), now: now)
                return
            }
            do {
                core.process(.envelope(try Envelope(decoding: record.value ?? []), position: position), now: now)
            } catch {
                let ingress = IngressRecord(topic: record.topic, key: record.key, value: record.value)
                core.process(.malformed(ingress, position: position, reason: "\(error)"), now: now)
            }
        }

        mutating func refetchSkipped(group: inout ThrowingDiscardingTaskGroup<any Error>) {
            guard !refetches.isEmpty else { return }
            let refetch = deps.refetch
            for (offset, at) in refetches {
                group.addTask {
                    try? await Task.sleep(until: at)
                    await refetch(offset)
                }
            }
            refetches = []
        }

        /// Posts the remote calls of what was just processed, each on a task of its own; the
        /// answer comes back through the mailbox.
        mutating func startRemoteCalls(group: inout ThrowingDiscardingTaskGroup<any Error>) {
            let client = deps.remote, mailbox = task.mailbox
            for call in core.takeRemoteCalls() {
                group.addTask {
                    if let outcome = await client.call(call) { mailbox.post(.remote(call, outcome)) }
                }
            }
        }

        /// Sends the signals of what was just processed at once, to a local partition or
        /// through Kafka; one that is lost is not retried (see `Envelope.isSignal`).
        mutating func sendSignals(group: inout ThrowingDiscardingTaskGroup<any Error>) {
            var remote: [ProducerRecord] = []
            for (envelope, target) in core.takeSignals() where deps.router.localTask(target)?.mailbox.post(.signals([envelope])) != true {
                remote.append(ProducerRecord(topic: configuration.internalTopic, partition: target, key: Array(envelope.target.id.utf8),
                                             value: envelope.encoded()))
            }
            guard !remote.isEmpty else { return }
            let producer = deps.producer
            group.addTask { try? await producer.send(remote) }
        }

        /// Closes the open epoch when it has changes and no epoch is being written, or one is and
        /// the interval has passed; an epoch that would only record deliveries waits
        /// `deliveryRecordDelay` for other changes to join it. Stopping closes at once. Every
        /// `snapshotEveryEpochs` epochs, a snapshot of the partition follows the epoch's record.
        mutating func maybeCloseEpoch(group: inout ThrowingDiscardingTaskGroup<any Error>) throws {
            guard core.hasChanges, epochs.notDurable < 2 else { return }
            let now = Self.monotonicMilliseconds()
            guard stopSignals.isEmpty == false || now >= closeDue(immediately: epochs.notDurable == 0) else { return }
            handOverLocal()
            guard let closed = try core.closeEpoch() else { return }
            closedEpochs += 1
            if let fault = configuration.partitionFault, fault.fires(partition: task.partition, closedEpochs: closedEpochs) {
                throw WorkerError(.checkpointFailed, "partition \(task.partition): injected fault, epoch \(closed.record.epoch) not written")
            }
            let stability = deps.stability
            let record = epochs.seal(closed.record, acks: closed.acks) { stability.unresolved($0) }
            deps.countTransactions(core.takeStatistics())
            lastClose = now
            let closedAt = ContinuousClock.now
            metrics.epochClosed(record.epoch, at: closedAt)
            metrics.flush(waiting: waiting.count - nextWaiting, backlog: task.backlog)
            task.positions.withLock { $0 = core.positions }
            let log = deps.log, mailbox = task.mailbox, previous = lastEnqueue, checkpointWrite = metrics.checkpointWrite
            // Epochs are written while the next ones are processed, but handed to the producer
            // strictly in order: recovery applies them only in sequence.
            let enqueue = Task { [record] in
                _ = try? await previous?.value
                return try await log.enqueue(record)
            }
            lastEnqueue = enqueue
            let image = takeSnapshotIfDue(), logger = deps.logger
            group.addTask { [record] in
                let logOffset: Int64?
                do {
                    logOffset = try await enqueue.value.durable()
                    checkpointWrite.record(duration: .now - closedAt)
                    mailbox.post(.durable(epoch: record.epoch))
                } catch {
                    mailbox.post(.failed("checkpoint of epoch \(record.epoch) not written: \(error)"))
                    return
                }
                if let image { await Self.writeSnapshot(image, of: record, logOffset: logOffset, log: log, mailbox: mailbox, logger: logger) }
            }
        }

        /// Writes the snapshot of `record`'s epoch, off the loop while later epochs go on, and
        /// tells the loop where it is (or that it could not be written).
        static func writeSnapshot(_ image: PartitionImage, of record: EpochRecord, logOffset: Int64?, log: CheckpointLog,
                                  mailbox: Mailbox<Event>, logger: Logger) async {
            do {
                let offset = try await log.writeSnapshot(image, lineage: record.lineage, logOffset: logOffset)
                mailbox.post(.snapshot(epoch: record.epoch, offset: offset))
            } catch {
                logger.warning("snapshot not written: recovery starts from an earlier one", metadata: [
                    "statefun.partition": "\(record.partition)", "statefun.epoch": "\(record.epoch)", "statefun.error": "\(error)",
                ])
                mailbox.post(.snapshot(epoch: record.epoch, offset: nil))
            }
        }

        /// The partition as the epoch just closed left it, when a snapshot is due and none is
        /// being written.
        mutating func takeSnapshotIfDue() -> PartitionImage? {
            let epoch = core.epoch - 1
            guard !snapshotInFlight, epoch - lastSnapshotEpoch >= Int64(configuration.snapshotEveryEpochs) else { return nil }
            snapshotInFlight = true
            lastSnapshotEpoch = epoch
            return core.image()
        }

        /// Commits the snapshot written last once its epoch is recorded stable.
        mutating func commitSnapshotIfStable(group: inout ThrowingDiscardingTaskGroup<any Error>) {
            guard let (epoch, offset) = snapshotToCommit, epoch <= epochs.stableThrough else { return }
            snapshotToCommit = nil
            let log = deps.log, partition = task.partition, logger = deps.logger
            group.addTask {
                do { try await log.commitSnapshot(partition, offset: offset) } catch {
                    logger.warning("snapshot offset not committed: recovery starts from an earlier one", metadata: [
                        "statefun.partition": "\(partition)", "kafka.error": "\(error)",
                    ])
                }
            }
        }

        /// Logs once what a stop that has taken over 5 s still waits for.
        mutating func reportSlowStop() {
            guard let stopRequested, !stopReported, ContinuousClock.now - stopRequested > .seconds(5) else { return }
            stopReported = true
            deps.logger.warning("partition still stopping after 5 s", metadata: [
                "statefun.partition": "\(task.partition)", "statefun.not_durable": "\(epochs.notDurable)",
                "statefun.unreleased": "\(!epochs.isEmpty)", "statefun.stable_through": "\(epochs.stableThrough)",
                "statefun.releases": "\(outstandingReleases)", "statefun.changes": "\(core.hasChanges)",
            ])
        }

        /// Notes that the open epoch applied messages of `epoch` of a local partition.
        mutating func noteDependency(on epoch: EpochRef) throws {
            let stability = deps.stability
            // A sender that started over may have lost the epochs this one applied: so must we.
            guard epochs.noteDependency(on: epoch, unresolved: { stability.unresolved($0) }) else {
                throw WorkerError(.restartNeeded, "partition \(task.partition): messages of two runs of partition \(epoch.partition)")
            }
        }

        /// Hands the messages just sent to partitions of this worker over at once.
        mutating func handOverLocal() {
            let sent = core.takeNewEnvelopes()
            guard !sent.isEmpty else { return }
            let from = EpochRef(partition: task.partition, incarnation: incarnation, epoch: core.epoch)
            var byTarget: [Int32: [Envelope]] = [:]
            for (envelope, target) in sent { byTarget[target, default: []].append(envelope) }
            for (target, envelopes) in byTarget {
                if deps.router.localTask(target)?.mailbox.post(.local(envelopes, from: from)) != true {
                    unposted.formUnion(envelopes.map(\.id))
                }
            }
        }

        /// Releases what stable epochs held back, in epoch order: outputs, messages not handed
        /// over, acknowledgements to local senders; then commits a snapshot now stable.
        mutating func releaseStable(_ stable: [EpochPipeline.Closed], group: inout ThrowingDiscardingTaskGroup<any Error>) {
            for closed in stable {
                let epoch = closed.record.epoch
                release(closed.record.ownOutbox, epoch: epoch, handedOver: true, group: &group)
                metrics.released(epoch, at: .now)
                for (ack, count) in closed.acks {
                    deps.router.localTask(ack.senderPartition)?.mailbox.post(
                        .acknowledged(incarnation: closed.senders[ack.senderPartition] ?? 0, epoch: ack.epoch, count: count))
                }
            }
            commitSnapshotIfStable(group: &group)
        }

        /// Hands an epoch's outbox to local partitions and to Kafka; Kafka deliveries are
        /// acknowledged when the broker has them, local ones by the receiver once stable.
        /// `handedOver`: messages to partitions of this worker went when they were sent, except
        /// those in `unposted`.
        mutating func release(_ items: [OutboxItem], epoch: Int64, handedOver: Bool,
                              group: inout ThrowingDiscardingTaskGroup<any Error>) {
            var local: [Int32: [Envelope]] = [:]
            var remote: [ProducerRecord] = []
            for item in items {
                switch item {
                case .envelope(let envelope, let target):
                    if handedOver, unposted.remove(envelope.id) == nil { continue }
                    if deps.router.localTask(target) != nil {
                        local[target, default: []].append(envelope)
                    } else {
                        remote.append(ProducerRecord(topic: configuration.internalTopic, partition: target,
                                                     key: Array(envelope.target.id.utf8), value: envelope.encoded()))
                    }
                case .egress(let record, let id):
                    remote.append(ProducerRecord(
                        topic: record.topic, key: record.key, value: record.value,
                        headers: record.headers.map { KafkaHeader(key: $0.key, value: $0.value) }
                            + [KafkaHeader(key: WorkerHeaders.id, value: id.description)]))
                case .deadLetter(let letter, let id):
                    metrics.deadLetter(letter.reason.code)
                    deps.logger.warning("dead letter", metadata: [
                        "statefun.reason": "\(letter.reason.code)", "statefun.origin": "\(letter.origin)", "statefun.id": "\(id)",
                    ])
                    remote.append(ProducerRecord(
                        topic: configuration.deadLetterTopic, key: letter.key, value: letter.value,
                        headers: [KafkaHeader(key: WorkerHeaders.reason, value: letter.reason.code),
                                  KafkaHeader(key: WorkerHeaders.reasonText, value: letter.reason.description),
                                  KafkaHeader(key: WorkerHeaders.origin, value: letter.origin),
                                  KafkaHeader(key: WorkerHeaders.id, value: id.description)]))
                }
            }
            let from = EpochRef(partition: task.partition, incarnation: incarnation, epoch: epoch)
            for (target, envelopes) in local {
                if deps.router.localTask(target)?.mailbox.post(.local(envelopes, from: from)) != true {
                    // The receiver stopped meanwhile: go through Kafka after all.
                    remote += envelopes.map {
                        ProducerRecord(topic: configuration.internalTopic, partition: target, key: Array($0.target.id.utf8), value: $0.encoded())
                    }
                }
            }
            guard !remote.isEmpty else { return }
            for record in remote { metrics.output(to: record.topic) }
            let crash = configuration.crashAfter.flatMap { point in
                items.contains { point.matches($0, logTopic: configuration.transactionLogTopic) } ? point : nil
            }
            outstandingReleases += 1
            let producer = deps.producer, mailbox = task.mailbox, logger = deps.logger, previous = lastRelease
            let internalTopic = configuration.internalTopic
            // Handed to the producer in epoch order, so that a channel's messages stay in order.
            let produced = Task { [remote] in
                _ = await previous?.result
                return try await producer.produce(remote)
            }
            lastRelease = produced
            group.addTask { [remote] in
                var delivery = produced
                var attempt = 0
                while true {
                    do {
                        let offsets = try await delivery.value.highestOffsets()
                        mailbox.post(.delivered(epoch: epoch, count: remote.count, offsets: Dictionary(
                            offsets.filter { $0.key.topic != internalTopic }.map { (OutputPartition($0.key.topic, $0.key.partition), $0.value) },
                            uniquingKeysWith: max)))
                        if let crash {
                            logger.critical("fault injection: killing the worker after a 2PC \(crash.rawValue)")
                            kill(getpid(), SIGKILL)
                        }
                        return
                    } catch {
                        // Re-sending is safe: receivers drop repeats by sequence number. Keep
                        // trying until the broker is back; stopping leaves the rest to the next owner.
                        attempt += 1
                        logger.warning("release of epoch \(epoch) failed, retrying", metadata: ["kafka.error": "\(error)"])
                        if mailbox.isClosed || Task.isCancelled { return }
                        try? await Task.sleep(for: .milliseconds(min(1_000, 50 * attempt)))
                        delivery = Task { try await producer.produce(remote) }
                    }
                }
            }
        }

        /// An epoch that only records which earlier epochs' outputs were delivered closes this
        /// long after the previous close, unless other changes join it first: under load that
        /// record rides with the next epoch instead of taking a checkpoint write of its own.
        static let deliveryRecordDelay: UInt64 = 100

        /// When the open epoch (which has changes) may close, in monotonic milliseconds: at once
        /// when `immediately` (no epoch is being written), else after the checkpoint interval,
        /// or `deliveryRecordDelay` for an epoch that only records deliveries.
        func closeDue(immediately: Bool) -> UInt64 {
            guard core.hasChangesBesidesDeliveries else { return lastClose + Self.deliveryRecordDelay }
            return immediately ? 0 : lastClose + UInt64(configuration.checkpointIntervalMilliseconds)
        }

        /// Wakes the loop when the epoch interval passes or the next timer is due.
        mutating func scheduleWake() {
            let now = Self.monotonicMilliseconds()
            var wanted: UInt64?
            if core.hasChanges, epochs.notDurable < 2 { wanted = closeDue(immediately: false) }
            if let due = core.nextTimerDue() {
                let delay = UInt64(max(0, due - Self.nowMilliseconds()))
                wanted = min(wanted ?? .max, now + delay)
            }
            guard let wanted, wake.map({ wanted < $0.at }) ?? true else { return }
            wake?.sleeper.cancel()
            let mailbox = task.mailbox
            wake = (wanted, Task {
                do { try await Task.sleep(for: .milliseconds(Int64(wanted > now ? wanted - now : 0))) } catch { return }
                mailbox.post(.tick(wanted))
            })
        }
    }
}

/// Header names the worker writes on egress and dead-letter records.
public enum WorkerHeaders {
    /// Stable id of an egress record: `partition-epoch-index`. A repeat has the same id.
    public static let id = "statefun-id"
    public static let reason = "statefun-reason"
    public static let reasonText = "statefun-reason-text"
    public static let origin = "statefun-origin"
}

/// Counts a partition's unprocessed input records and decides when to pause and resume its
/// inputs. Exactly one side resumes: whoever takes the paused flag back.
final class InputBacklog: Sendable {
    private let pending = Atomic<Int>(0)
    private let paused = Atomic<Bool>(false)
    private let high: Int
    private let low: Int

    init(high: Int) {
        self.high = max(1, high)
        low = max(0, high / 4)
    }

    /// Records `count` more queued; true when the caller should pause the inputs now.
    func queued(_ count: Int) -> Bool {
        let now = pending.add(count, ordering: .relaxed).newValue
        return now > high && paused.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
    }

    /// After pausing: true when the task caught up meanwhile and the caller should resume at once.
    func shouldResumeAfterPause() -> Bool {
        pending.load(ordering: .relaxed) <= low && takePause()
    }

    /// Records `count` processed; true when the caller should resume the inputs.
    func processed(_ count: Int) -> Bool {
        let now = pending.subtract(count, ordering: .relaxed).newValue
        return now <= low && paused.load(ordering: .relaxed) && takePause()
    }

    /// Records queued and not yet processed.
    var pendingCount: Int { pending.load(ordering: .relaxed) }

    /// Whether the inputs are paused for this backlog.
    var isPaused: Bool { paused.load(ordering: .relaxed) }

    private func takePause() -> Bool {
        paused.compareExchange(expected: true, desired: false, ordering: .acquiringAndReleasing).exchanged
    }
}
