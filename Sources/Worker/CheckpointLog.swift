import Foundation
import Kafka
import Logging
import Runtime
import StatefulFunctions

/// A partition's checkpoint log: partition P of the checkpoint topic, one epoch record after the
/// other (split into chunks when large). Its snapshots go to partition P of the snapshot topic,
/// through a producer of their own, so that no epoch waits behind one. The offset of the latest
/// stable snapshot is committed under the snapshot group, so recovery starts there instead of
/// at the log's first epoch.
struct CheckpointLog: Sendable {
    static let epochHeader = "statefun-epoch"
    static let chunkHeader = "statefun-chunk"
    /// On a snapshot's chunks: where the record of the epoch it shows starts in the checkpoint log.
    static let logOffsetHeader = "statefun-log-offset"

    let configuration: WorkerConfiguration
    let producer: KafkaProducer
    let snapshotProducer: KafkaProducer
    let snapshotIndex: KafkaConsumer
    /// A reason when nothing may be committed any more (see `SessionLease`).
    let fence: @Sendable () -> String?
    let logger: Logger

    /// Hands `record`'s chunks to the producer, after those of every record handed over before,
    /// so that the log holds epochs in order; the returned write tells when they are durable.
    func enqueue(_ record: EpochRecord) async throws(KafkaError) -> CheckpointWrite {
        // The first chunk's offset is where a snapshot of this epoch resumes the log.
        try await Self.write(Self.chunks(of: record, topic: configuration.checkpointTopic, size: configuration.checkpointChunkBytes),
                             through: producer)
    }

    /// Encodes `image` (with `lineage`, that of the epoch it shows) and writes it to the snapshot
    /// topic; `logOffset` is where that epoch's record starts in the checkpoint log (nil if the
    /// broker did not say: then no snapshot). Returns the snapshot's offset, to commit once its
    /// epoch is stable (`commitSnapshot`).
    func writeSnapshot(_ image: PartitionImage, lineage: EpochLineage, logOffset: Int64?) async throws -> Int64 {
        guard let logOffset else { throw KafkaError(.retriable, "epoch \(image.epoch) acknowledged without an offset") }
        var record = try image.record()
        record.lineage = lineage
        let chunks = Self.chunks(of: record, topic: configuration.snapshotTopic, size: configuration.checkpointChunkBytes,
                                 headers: [KafkaHeader(key: Self.logOffsetHeader, value: "\(logOffset)")])
        guard let offset = try await Self.write(chunks, through: snapshotProducer).durable() else {
            throw KafkaError(.retriable, "snapshot of epoch \(record.epoch) acknowledged without an offset")
        }
        return offset
    }

    /// Hands `chunks` to `producer`, the first on its own, so that its offset is where the
    /// record starts.
    private static func write(_ chunks: [ProducerRecord], through producer: KafkaProducer) async throws(KafkaError) -> CheckpointWrite {
        let first = try await producer.produce([chunks[0]])
        let rest = try await producer.produce(Array(chunks.dropFirst()))
        return CheckpointWrite(first: first, rest: rest)
    }

    /// `record` encoded, in chunks of at most `size` bytes for partition `record.partition` of `topic`.
    private static func chunks(of record: EpochRecord, topic: String, size: Int, headers: [KafkaHeader] = []) -> [ProducerRecord] {
        let bytes = record.encoded()
        let size = max(1, size)
        let count = max(1, (bytes.count + size - 1) / size)
        return (0..<count).map { index in
            ProducerRecord(
                topic: topic, partition: record.partition, key: Array("\(record.partition)".utf8),
                value: Array(bytes[min(bytes.count, index * size)..<min(bytes.count, (index + 1) * size)]),
                headers: [KafkaHeader(key: epochHeader, value: "\(record.epoch)"),
                          KafkaHeader(key: chunkHeader, value: "\(index)/\(count)")] + headers)
        }
    }

    /// A partition rebuilt from its log: its state, the last epoch of its valid history (what
    /// the next incarnation follows on), and where the stability log's marks for the next
    /// incarnation will be (at or after this offset).
    struct Recovered {
        var core: PartitionCore
        var head: EpochPosition
        var stabilityOffset: Int64
    }

    /// Rebuilds partition `partition` from its log: the latest stable snapshot, then every epoch
    /// of the valid history after it (`EpochChain`), in order. Epochs a crash cut off (incomplete,
    /// or depending on epochs of other partitions that never became stable) are skipped.
    func recover(_ partition: Int32, application: Application, partitionOf: @escaping @Sendable (Address) -> Int32) async throws -> Recovered {
        var core = PartitionCore(partition: partition, application: application, maxRecordBytes: configuration.maxRecordBytes,
                                 transactionSettings: configuration.transactionSettings, partitionOf: partitionOf)
        let (snapshot, logStart, snapshotBytes) = try await latestSnapshot(partition)
        var log: [EpochRecord] = []
        var assembler = ChunkAssembler()
        var bytes = snapshotBytes
        try await KafkaConsumer.readToEnd([TopicPartitionOffset(configuration.checkpointTopic, partition, offset: logStart)],
                                          configuration: readerConfiguration, logger: logger) { records in
            for record in records {
                bytes += record.value?.count ?? 0
                if let complete = assembler.add(record) { log.append(try EpochRecord(decoding: complete)) }
            }
        }
        let decoded = EpochChain.records(snapshot: snapshot, log: log)
        var stabilityOffset: Int64
        var chain = try EpochChain.valid(decoded, markedStable: 0)
        if let (last, hint) = EpochChain.lastIncarnation(decoded) {
            stabilityOffset = hint
            // Marks matter only when the last incarnation's records reach past what its own
            // records prove (epochs with dependencies past its last recorded mark).
            let lastEpoch = decoded.lazy.filter { $0.lineage.incarnation == last }.map(\.epoch).max()
            if chain.last?.lineage.incarnation != last || chain.last?.epoch != lastEpoch {
                let marked: Int64
                (marked, stabilityOffset) = try await markedStable(partition, incarnation: last, from: hint)
                chain = try EpochChain.valid(decoded, markedStable: marked)
            }
        } else {
            let end = try? await snapshotIndex.watermarks(TopicPartition(configuration.stabilityTopic, 0)).high
            stabilityOffset = end ?? 0
        }
        for record in chain { try core.restore(record) }
        let head = chain.last.map { EpochPosition(incarnation: $0.lineage.incarnation, epoch: $0.epoch) } ?? .none
        let cutOff = EpochChain.cutOff(decoded, valid: chain)
        logger.info("partition recovered", metadata: [
            "statefun.partition": "\(partition)", "statefun.epochs": "\(chain.count)", "statefun.cutoff": "\(cutOff)",
            "statefun.skipped": "\(decoded.count - chain.count - cutOff)",
            "statefun.bytes": "\(bytes)", "statefun.addresses": "\(core.addressCount)", "statefun.epoch": "\(head.epoch)",
            "statefun.positions": "\(core.positions)",
        ])
        return Recovered(core: core, head: head, stabilityOffset: stabilityOffset)
    }

    /// The snapshot the snapshot group points at for `partition`, and where the checkpoint log
    /// goes on after it (its own epoch's record); without one, the log's beginning.
    private func latestSnapshot(_ partition: Int32) async throws -> (EpochRecord?, logStart: Int64, bytes: Int) {
        let topicPartition = TopicPartition(configuration.snapshotTopic, partition)
        let committed = try await snapshotIndex.committed([topicPartition]).first?.offset ?? -1
        guard committed >= 0 else { return (nil, TopicPartitionOffset.beginning, 0) }
        var found: (record: EpochRecord, logOffset: Int64)?
        var assembler = ChunkAssembler()
        var bytes = 0
        try await KafkaConsumer.readToEnd([TopicPartitionOffset(topicPartition, offset: committed)], configuration: readerConfiguration,
                                          logger: logger) { records in
            // Later snapshots may follow; the committed one is the first.
            for record in records where found == nil {
                bytes += record.value?.count ?? 0
                guard let complete = assembler.add(record) else { continue }
                guard let logOffset = record.header(Self.logOffsetHeader).flatMap({ Int64(String(decoding: $0, as: UTF8.self)) }) else {
                    throw WorkerError(.checkpointFailed, "the snapshot at \(topicPartition) offset \(committed) has no log offset")
                }
                found = (try EpochRecord(decoding: complete), logOffset)
            }
        }
        guard let found else {
            throw WorkerError(.checkpointFailed, "no whole snapshot at \(topicPartition) offset \(committed), where the snapshot group points")
        }
        return (found.record, found.logOffset, bytes)
    }

    /// The highest epoch of `incarnation` of `partition` that the stability log marks stable,
    /// reading it from `offset` (no mark of that incarnation is before it), and the log's end.
    private func markedStable(_ partition: Int32, incarnation: UInt64, from offset: Int64) async throws -> (Int64, end: Int64) {
        var through: Int64 = 0
        var end = offset
        try await KafkaConsumer.readToEnd([TopicPartitionOffset(configuration.stabilityTopic, 0, offset: offset)],
                                          configuration: readerConfiguration, logger: logger) { records in
            for record in records {
                end = max(end, record.offset + 1)
                for mark in try StabilityTracker.marks(decoding: record.value ?? []) where mark.partition == partition && mark.incarnation == incarnation {
                    through = max(through, mark.epoch)
                }
            }
        }
        return (through, end)
    }

    private var readerConfiguration: KafkaConsumerConfiguration {
        var reader = KafkaConsumerConfiguration(bootstrapServers: configuration.bootstrapServers)
        reader.properties = configuration.kafkaProperties
        return reader
    }

    /// Points the snapshot group at the snapshot at `offset` of the snapshot topic: recovery
    /// starts there. Only for a snapshot of an epoch recorded stable, so that recovery never
    /// starts from an epoch that does not count.
    func commitSnapshot(_ partition: Int32, offset: Int64) async throws {
        // A snapshot made stable after the worker lost the partition may lie outside the new
        // owner's history: recovery must never start from it.
        if let reason = fence() { throw KafkaError(.fenced, "snapshot offset not committed: \(reason)") }
        try await snapshotIndex.commit([TopicPartitionOffset(configuration.snapshotTopic, partition, offset: offset)])
    }
}

/// An epoch record handed to the producer.
struct CheckpointWrite: Sendable {
    let first: PendingDelivery
    let rest: PendingDelivery

    /// Returns once every chunk is acknowledged: the offset where the record starts (nil if
    /// the broker did not say).
    func durable() async throws(KafkaError) -> Int64? {
        let start = try await first.acknowledged()
        try await rest.acknowledged()
        return start?.offset
    }
}

/// Joins the chunks of one epoch record. A chunk 0 starts over, so a half-written epoch
/// followed by its rewrite yields only the rewrite.
struct ChunkAssembler {
    private var epoch: String?
    private var expected = 0
    private var bytes: [UInt8] = []

    mutating func add(_ record: ConsumerRecord) -> [UInt8]? {
        guard let epochText = record.header(CheckpointLog.epochHeader).map({ String(decoding: $0, as: UTF8.self) }),
              let chunkText = record.header(CheckpointLog.chunkHeader).map({ String(decoding: $0, as: UTF8.self) }),
              let slash = chunkText.firstIndex(of: "/"),
              let index = Int(chunkText[..<slash]), let count = Int(chunkText[chunkText.index(after: slash)...])
        else { return nil }
        if index == 0 {
            epoch = epochText
            expected = 0
            bytes = []
        }
        guard epoch == epochText, index == expected else {
            epoch = nil
            return nil
        }
        bytes += record.value ?? []
        expected += 1
        guard expected == count else { return nil }
        epoch = nil
        return bytes
    }
}
