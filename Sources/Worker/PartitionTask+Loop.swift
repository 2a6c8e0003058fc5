import Kafka
import Logging
import Runtime
import StatefulFunctions

/// The loop itself: takes the mailbox's events, processes records in order (at most
/// `recordsPerTurn` per turn), and after each turn hands messages over, starts remote calls
/// and closes the epoch when due.
extension PartitionTask.Loop {
    mutating func run(group: inout ThrowingDiscardingTaskGroup<any Error>) async throws {
        defer { wake?.sleeper.cancel() }
        // Recovered timers must fire even if no input ever arrives, and recovered remote
        // batches go out at once.
        scheduleWake()
        startRemoteCalls(group: &group)
        while true {
            // With records left from the last turn, take what else arrived without waiting.
            let events = unread.isEmpty ? await task.mailbox.next() : task.mailbox.drain()
            if events.isEmpty && task.mailbox.isClosed { return }
            let now = Self.nowMilliseconds()
            for event in events { try handle(event, now: now, group: &group) }
            if stopSignals.isEmpty, let due = core.nextTimerDue(), due <= now { core.fireTimers(now: now) }
            if stopSignals.isEmpty { admitWaiting(now: now) }
            admitUnread(now: now)
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

    mutating func handle(_ event: PartitionTask.Event, now: Int64, group: inout ThrowingDiscardingTaskGroup<any Error>) throws {
        switch event {
        case .records(let records):
            // Taken in turns by `admitUnread`, which drops them when stopping.
            unread.append(records)
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

    /// Admits at most `recordsPerTurn` of the records read and not yet taken, in order; the
    /// rest wait for the next turn. Stopping, they are dropped (the next owner reads them).
    mutating func admitUnread(now: Int64) {
        guard stopSignals.isEmpty else {
            let dropped = unread.removeAll()
            if dropped > 0, task.backlog.processed(dropped) { deps.resumeInputs(task.partition) }
            return
        }
        for record in unread.take(Self.recordsPerTurn) { admit(record, now: now) }
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
            remote.append(internalRecord(envelope, to: target))
        }
        guard !remote.isEmpty else { return }
        let producer = deps.producer
        group.addTask { try? await producer.send(remote) }
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
}
