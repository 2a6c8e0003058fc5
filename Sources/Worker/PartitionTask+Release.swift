import Foundation
import Kafka
import Logging
import Runtime
import StatefulFunctions

/// What leaves the partition: messages handed to local partitions at once, and an epoch's
/// outbox once the epoch is stable (or again after recovery).
extension PartitionTask.Loop {
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
        var (local, remote) = outputs(of: items, handedOver: handedOver)
        let from = EpochRef(partition: task.partition, incarnation: incarnation, epoch: epoch)
        for (target, envelopes) in local {
            if deps.router.localTask(target)?.mailbox.post(.local(envelopes, from: from)) != true {
                // The receiver stopped meanwhile: go through Kafka after all.
                remote += envelopes.map { internalRecord($0, to: target) }
            }
        }
        guard !remote.isEmpty else { return }
        for record in remote { metrics.output(to: record.topic) }
        let crash = configuration.crashAfter.flatMap { point in
            items.contains { point.matches($0, logTopic: configuration.transactionLogTopic) } ? point : nil
        }
        produce(remote, of: epoch, crashAfter: crash, group: &group)
    }

    /// The outbox items to send: envelopes for partitions of this worker by partition, and the
    /// records for Kafka (envelopes for other workers, egress records, dead letters).
    private mutating func outputs(of items: [OutboxItem], handedOver: Bool)
        -> (local: [Int32: [Envelope]], remote: [ProducerRecord]) {
        var local: [Int32: [Envelope]] = [:]
        var remote: [ProducerRecord] = []
        for item in items {
            switch item {
            case .envelope(let envelope, let target):
                if handedOver, unposted.remove(envelope.id) == nil { continue }
                if deps.router.localTask(target) != nil {
                    local[target, default: []].append(envelope)
                } else {
                    remote.append(internalRecord(envelope, to: target))
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
        return (local, remote)
    }

    /// `envelope` as a record of the internal topic, for partition `target`.
    func internalRecord(_ envelope: Envelope, to target: Int32) -> ProducerRecord {
        ProducerRecord(topic: configuration.internalTopic, partition: target, key: Array(envelope.target.id.utf8),
                       value: envelope.encoded())
    }

    /// Hands `remote` to the producer after the previous release, and reports their delivery
    /// as `epoch`'s; a failed one is produced again with a growing pause until it is delivered
    /// or the task stops. `crash` kills the worker once they are delivered (fault injection).
    private mutating func produce(_ remote: [ProducerRecord], of epoch: Int64, crashAfter crash: CrashPoint?,
                                  group: inout ThrowingDiscardingTaskGroup<any Error>) {
        outstandingReleases += 1
        let producer = deps.producer, mailbox = task.mailbox, logger = deps.logger, previous = lastRelease
        let internalTopic = configuration.internalTopic
        // Handed to the producer in epoch order, so that a channel's messages stay in order.
        let produced = Task {
            _ = await previous?.result
            return try await producer.produce(remote)
        }
        lastRelease = produced
        group.addTask {
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
}
