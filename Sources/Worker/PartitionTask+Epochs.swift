import Kafka
import Logging
import Runtime
import StatefulFunctions

/// Closing epochs: when one closes, its checkpoint write, the snapshots that follow every
/// `snapshotEveryEpochs` epochs, and the wake-ups that close an epoch on time.
extension PartitionTask.Loop {
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
                              mailbox: Mailbox<PartitionTask.Event>, logger: Logger) async {
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
