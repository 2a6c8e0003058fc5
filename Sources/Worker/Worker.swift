import Dispatch
import Foundation
import Kafka
import Logging
import Metrics
import Runtime
import ServiceLifecycle
import StatefulFunctions
import Synchronization

/// A worker process's engine: joins the application's consumer group, runs the key partitions
/// the group gives it, and hands them over cleanly when the group takes them away.
///
/// Run it in a `ServiceGroup` (it stops on graceful shutdown, e.g. SIGTERM) or cancel its task.
public final class Worker: Service {
    private let application: Application
    private let configuration: WorkerConfiguration
    private let logger: Logger
    private let totals = Mutex(TransactionTotals())

    /// The transactions this worker's partitions ran since it started.
    public var transactionTotals: TransactionTotals { totals.withLock { $0 } }

    public init(application: Application, configuration: WorkerConfiguration, logger: Logger = Logger(label: "statefun.worker")) {
        self.application = application
        self.configuration = configuration
        self.logger = logger
    }

    private enum Control: Sendable {
        case consumer(KafkaConsumerEvent)
        case shutdown
        /// The group session may have expired (see `SessionLease`).
        case cutOff(silenceMilliseconds: UInt64)
    }

    public func run() async throws {
        let admin = try KafkaAdmin(configuration: adminConfiguration())
        try await Topics(configuration: configuration, application: application).ensure(admin)
        let control = Mailbox<Control>()
        let lease = SessionLease(sessionTimeoutMilliseconds: configuration.sessionTimeoutMilliseconds) { silence in
            control.post(.cutOff(silenceMilliseconds: silence))
        }
        lease.start()
        defer { lease.stop() }
        let producers = try Producers(configuration: configuration, fence: lease.refusal, logger: logger)
        let snapshotIndex = try KafkaConsumer(configuration: consumerConfiguration(group: configuration.snapshotGroup), logger: logger)
        let registry = TaskRegistry()
        let inputs = [configuration.internalTopic] + application.ingresses.map(\.topic)
        let consumer = try makeGroupConsumer(registry: registry)
        try consumer.subscribe(topics: inputs)
        logger.info("worker started", metadata: [
            "statefun.application": "\(configuration.applicationID)", "statefun.partitions": "\(configuration.partitions)",
            "statefun.inputs": "\(inputs)",
        ])
        let inputControl = InputControl(consumer: consumer, inputs: inputs, logger: logger)
        // Where every metric of this run goes: the configuration's factory, else the process's.
        let metricsFactory = configuration.metricsFactory ?? MetricsSystem.factory
        let remote = RemoteClient(metrics: RemoteMetrics(application: configuration.applicationID, factory: metricsFactory))
        let dependencies = partitionDependencies(
            producers: producers, snapshotIndex: snapshotIndex, registry: registry,
            consumer: consumer, inputControl: inputControl, fence: lease.refusal, remote: remote, metricsFactory: metricsFactory)

        let cutOff: WorkerError?
        do { cutOff = try await run(dependencies, consumer: consumer, control: control, registry: registry,
                                    inputControl: inputControl, lease: lease) } catch {
            await remote.shutdown()
            throw error
        }
        await snapshotIndex.close()
        await remote.shutdown()
        let failure = await producers.shutdown()
        if let failure = cutOff ?? failure { throw failure }
        logStatistics()
    }

    /// Runs the key partitions the group assigns until shutdown; returns why when the worker was
    /// cut off from its group.
    private func run(_ dependencies: PartitionTask.Dependencies, consumer: KafkaConsumer, control: Mailbox<Control>,
                     registry: TaskRegistry, inputControl: InputControl, lease: SessionLease) async throws -> WorkerError? {
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask {
                for await event in consumer.events { control.post(.consumer(event)) }
            }
            group.addTask {
                try? await gracefulShutdown()
                control.post(.shutdown)
            }
            group.addTask { [configuration] in
                await LagMetrics.run(registry: registry, inputs: inputControl, application: configuration.applicationID,
                                     factory: dependencies.metricsFactory)
            }
            var cutOff: WorkerError?
            loop: while true {
                for event in await control.next() {
                    switch event {
                    case .consumer(let event):
                        handle(event, registry: registry, inputControl: inputControl) { partition, ownership in
                            group.addTask {
                                await Self.keepRunning(partition, ownership: ownership, registry: registry, dependencies: dependencies)
                            }
                        }
                    case .shutdown:
                        logger.info("worker stopping: checkpointing its partitions")
                        break loop
                    case .cutOff(let silence):
                        cutOff = WorkerError(.cutOff, "silent for \(silence) ms, longer than the group session allows "
                            + "(\(lease.limitNanoseconds / 1_000_000) ms): its partitions may belong to another worker now")
                        logger.critical("worker cut off from its group: it stops without writing or releasing anything more", metadata: [
                            "statefun.silence_ms": "\(silence)",
                        ])
                        break loop
                    }
                }
            }
            await registry.stopAll(logger: logger)
            group.cancelAll()
            await consumer.close()
            return cutOff
        }
    }

    /// The consumer of the application's group, which assigns this worker its key partitions.
    private func makeGroupConsumer(registry: TaskRegistry) throws -> KafkaConsumer {
        var groupConfiguration = consumerConfiguration(group: configuration.applicationID)
        groupConfiguration.sessionTimeoutMilliseconds = configuration.sessionTimeoutMilliseconds
        // Range gives partition k of every input to the same member: key partition k is one unit.
        groupConfiguration.properties["partition.assignment.strategy"] = "range"
        // Positions live in the checkpoints: a partition is read from the start until its
        // recovery seeks to them, and nothing is ever committed under the group.
        groupConfiguration.startsAtCommittedOffsets = false
        // Ownership changes on the polling thread, in the group's order: an assignment whose
        // event is read after its own revocation starts nothing (`TaskRegistry.takeUnstarted`).
        groupConfiguration.didAssignPartitions = { [configuration] partitions in
            for partition in partitions where partition.topic == configuration.internalTopic { registry.assign(partition.partition) }
        }
        groupConfiguration.willRevokePartitions = { [configuration, logger] partitions in
            // Blocks the group until the partitions' last epochs are durable, so their next
            // owner recovers everything.
            let keyPartitions = partitions.filter { $0.topic == configuration.internalTopic }.map(\.partition)
            registry.stopBlocking(keyPartitions, logger: logger)
        }
        return try KafkaConsumer(configuration: groupConfiguration, logger: logger)
    }

    private func partitionDependencies(
        producers: Producers, snapshotIndex: KafkaConsumer, registry: TaskRegistry,
        consumer: KafkaConsumer, inputControl: InputControl, fence: @escaping @Sendable () -> String?, remote: RemoteClient,
        metricsFactory: any MetricsFactory
    ) -> PartitionTask.Dependencies {
        let partitionCount = configuration.partitions, inputs = inputControl.inputs
        let transactionMetrics = TransactionMetrics(application: configuration.applicationID, factory: metricsFactory)
        return PartitionTask.Dependencies(
            configuration: configuration, application: application, producer: producers.outputs,
            log: CheckpointLog(configuration: configuration, producer: producers.checkpoints, snapshotProducer: producers.snapshots,
                               snapshotIndex: snapshotIndex,
                               fence: fence, logger: logger),
            stability: StabilityLog(producer: producers.checkpoints, topic: configuration.stabilityTopic, logger: logger),
            router: registry,
            partitionOf: { Murmur2Partitioner.partition(forKey: $0.id, partitionCount: partitionCount) },
            logger: logger,
            recovered: { [logger] partition, positions in
                try await InputPositioner(inputs: inputs, seek: { try await consumer.seek($0) }, resume: inputControl.resume, logger: logger)
                    .position(partition, from: positions)
            },
            resumeInputs: inputControl.resume,
            pauseInputs: inputControl.pause,
            refetch: { [logger] offset in
                // Nothing else fetches the records again: a refused seek is retried for a while
                // (it is refused for good once the group has taken the partition away).
                do {
                    try await seekRetrying([offset], attempts: 20, pause: .milliseconds(100), seek: { try await consumer.seek($0) })
                } catch { logger.warning("cannot fetch \(offset) again: \(error)") }
            },
            countTransactions: { [self, transactionMetrics] counts in
                totals.withLock { $0.add(counts) }
                transactionMetrics.record(counts)
            },
            remote: remote, metricsFactory: metricsFactory)
    }

    /// Acts on one event of the group consumer; `start` runs a newly assigned key partition.
    private func handle(_ event: KafkaConsumerEvent, registry: TaskRegistry, inputControl: InputControl,
                        start: (Int32, UInt64) -> Void) {
        switch event {
        case .partitionsAssigned(let partitions):
            for partition in partitions where partition.topic == configuration.internalTopic {
                guard let ownership = registry.takeUnstarted(partition.partition) else { continue }
                // Inputs stay paused until their partition has recovered and seeked.
                inputControl.pause(partition.partition)
                start(partition.partition, ownership)
            }
        case .records(let records):
            for (partition, batch) in Dictionary(grouping: records, by: \.partition) {
                guard let task = registry.task(partition) else { continue }
                task.mailbox.post(.records(batch.map { FetchedRecord($0, configuration: configuration, application: application) }))
                // Bounded memory: stop fetching for a partition that falls behind.
                if task.backlog.queued(batch.count) {
                    logger.debug("inputs paused: partition is behind", metadata: ["statefun.partition": "\(partition)"])
                    inputControl.pause(partition)
                    if task.backlog.shouldResumeAfterPause() { inputControl.resume(partition) }
                }
            }
        case .error(let error):
            logger.warning("consumer: \(error)")
        case .partitionsRevoked, .endOfPartition:
            break
        }
    }

    private func logStatistics() {
        let counts = transactionTotals.counts
        logger.info("worker stopped", metadata: [
            "statefun.transactions.committed": "\(counts.committed)", "statefun.transactions.failed": "\(counts.failed)",
            "statefun.transactions.retryable": "\(counts.retryableAborts)", "statefun.transactions.deadlocks": "\(counts.deadlocks)",
            "statefun.transactions.timeouts": "\(counts.timeouts)", "statefun.transactions.cycles": "\(counts.cyclesFound)",
        ])
    }

    /// Runs a partition while this worker owns it (this `ownership` of it: the group may take it
    /// away and give it back meanwhile), starting over from its log after a failure.
    private static func keepRunning(_ partition: Int32, ownership: UInt64, registry: TaskRegistry,
                                    dependencies: PartitionTask.Dependencies) async {
        var failures = 0
        // A task of an earlier ownership may still be writing its last epochs: recovering
        // before it has ended could miss them.
        var waited = 0
        while registry.task(partition) != nil, !Task.isCancelled {
            waited += 1
            if waited == 100 { dependencies.logger.warning("partition \(partition) waits for its previous task to end") }
            try? await Task.sleep(for: .milliseconds(50))
        }
        while registry.owns(partition, ownership), !Task.isCancelled {
            let task = PartitionTask(partition: partition, dependencies: dependencies)
            registry.register(task)
            do {
                try await task.run()
                registry.unregister(task)
                return
            } catch {
                // Nothing more is fetched until the next task has sought its checkpoint: a
                // record fetched ahead of it would be taken as the next input and skip those
                // between. Records already on their way find no task and are dropped. (A
                // partition no longer owned is paused by its next assignment.)
                if registry.owns(partition, ownership) { dependencies.pauseInputs(partition) }
                registry.unregister(task)
                failures += 1
                dependencies.logger.error("partition \(partition) failed, recovering it again: \(error)")
                try? await Task.sleep(for: .milliseconds(min(5_000, 200 * failures)))
            }
        }
    }

    private func adminConfiguration() -> KafkaAdminConfiguration {
        var admin = KafkaAdminConfiguration(bootstrapServers: configuration.bootstrapServers)
        admin.properties = configuration.kafkaProperties
        return admin
    }

    private func consumerConfiguration(group: String) -> KafkaConsumerConfiguration {
        var consumer = KafkaConsumerConfiguration(bootstrapServers: configuration.bootstrapServers, groupID: group)
        consumer.properties = configuration.kafkaProperties
        return consumer
    }
}

/// The partitions this worker owns and their running tasks.
final class TaskRegistry: PartitionRouter {
    private struct State {
        /// Each owned partition's ownership: a number that is new each time it is assigned.
        var assigned: [Int32: UInt64] = [:]
        /// Owned partitions whose task has not been started yet.
        var unstarted: Set<Int32> = []
        var ownerships: UInt64 = 0
        var tasks: [Int32: PartitionTask] = [:]
    }

    private let state = Mutex(State())

    /// Marks `partition` owned, with a new ownership, unless it already is; its task is
    /// started by whoever takes it with `takeUnstarted`.
    func assign(_ partition: Int32) {
        state.withLock { state in
            guard state.assigned[partition] == nil else { return }
            state.ownerships += 1
            state.assigned[partition] = state.ownerships
            state.unstarted.insert(partition)
        }
    }

    /// The ownership of `partition` if it is owned and its task not started yet; the caller
    /// starts it. nil once started, or when the group took it away meanwhile.
    func takeUnstarted(_ partition: Int32) -> UInt64? {
        state.withLock { state in state.unstarted.remove(partition) == nil ? nil : state.assigned[partition] }
    }

    /// Whether `ownership` of `partition` is still the current one.
    func owns(_ partition: Int32, _ ownership: UInt64) -> Bool { state.withLock { $0.assigned[partition] == ownership } }

    func register(_ task: PartitionTask) { state.withLock { $0.tasks[task.partition] = task } }

    func unregister(_ task: PartitionTask) {
        state.withLock { state in
            if state.tasks[task.partition] === task { state.tasks[task.partition] = nil }
        }
    }

    func task(_ partition: Int32) -> PartitionTask? { state.withLock { $0.tasks[partition] } }

    func runningTasks() -> [PartitionTask] { state.withLock { Array($0.tasks.values) } }

    func localTask(_ partition: Int32) -> PartitionTask? {
        guard let task = task(partition), task.acceptsLocalMessages.load(ordering: .acquiring), !task.mailbox.isClosed else { return nil }
        return task
    }

    /// Stops the tasks of `partitions` and waits (blocking the calling thread, which is the
    /// consumer's polling thread) until each has checkpointed, at most 20 seconds in all, well
    /// within the group's poll interval. A task still writing then ends on its own, and the
    /// partition's next task in this worker waits for that (`keepRunning`).
    func stopBlocking(_ partitions: [Int32], logger: Logger) {
        let tasks = release(partitions)
        let done = DispatchSemaphore(value: 0)
        for task in tasks { task.requestStop { done.signal() } }
        let deadline = DispatchTime.now() + 20
        for task in tasks where done.wait(timeout: deadline) == .timedOut {
            logger.error("partition \(task.partition) did not finish its checkpoint within 20 s")
        }
    }

    /// Stops every task and waits until each has checkpointed, at most 20 seconds in all (as
    /// `stopBlocking`, on a thread of its own), so that a worker always ends.
    func stopAll(logger: Logger) async {
        let partitions = state.withLock { Array($0.assigned.keys) }
        await withCheckedContinuation { continuation in
            Thread {
                self.stopBlocking(partitions, logger: logger)
                continuation.resume()
            }.start()
        }
    }

    private func release(_ partitions: [Int32]) -> [PartitionTask] {
        state.withLock { state in
            partitions.compactMap { partition in
                state.assigned[partition] = nil
                state.unstarted.remove(partition)
                return state.tasks[partition]
            }
        }
    }
}

/// Pauses and resumes the inputs of a key partition: partition k of every input topic.
struct InputControl: Sendable {
    let consumer: KafkaConsumer
    let inputs: [String]
    let logger: Logger

    /// Per input topic, how far `positions` (the next offsets to read) are behind the high
    /// watermarks of partition `partition` the consumer last saw.
    func lags(of partition: Int32, positions: [String: Int64]) -> [String: Int64] {
        var lags: [String: Int64] = [:]
        for topic in inputs {
            guard let high = consumer.lastKnownHighWatermark(TopicPartition(topic, partition)) else { continue }
            lags[topic] = max(0, high - (positions[topic] ?? 0))
        }
        return lags
    }

    func pause(_ partition: Int32) {
        do { try consumer.pause(inputs.map { TopicPartition($0, partition) }) } catch {
            logger.error("cannot pause the inputs of partition \(partition): \(error)")
        }
    }

    func resume(_ partition: Int32) {
        do { try consumer.resume(inputs.map { TopicPartition($0, partition) }) } catch {
            logger.error("cannot resume the inputs of partition \(partition): \(error)")
        }
    }
}
