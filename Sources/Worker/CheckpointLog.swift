import Foundation
import Kafka
import Logging
import Runtime
import StatefulFunctions

/// A partition's checkpoint log: partition P of the checkpoint topic, one epoch record after the
/// other (split into chunks when large). The offset of the latest snapshot is committed under
/// the snapshot group, so recovery reads from there instead of from the start.
struct CheckpointLog: Sendable {
    static let epochHeader = "statefun-epoch"
    static let chunkHeader = "statefun-chunk"

    let configuration: WorkerConfiguration
    let producer: KafkaProducer
    let snapshotIndex: KafkaConsumer
    let logger: Logger

    /// Hands `record`'s chunks to the producer, after those of every record handed over before,
    /// so that the log holds epochs in order; the returned write tells when they are durable.
    func enqueue(_ record: EpochRecord) async throws(KafkaError) -> CheckpointWrite {
        let bytes = record.encoded()
        let size = max(1, configuration.checkpointChunkBytes)
        let count = max(1, (bytes.count + size - 1) / size)
        let chunks = (0..<count).map { index in
            ProducerRecord(
                topic: configuration.checkpointTopic, partition: record.partition,
                key: Array("\(record.partition)".utf8),
                value: Array(bytes[min(bytes.count, index * size)..<min(bytes.count, (index + 1) * size)]),
                headers: [KafkaHeader(key: Self.epochHeader, value: "\(record.epoch)"),
                          KafkaHeader(key: Self.chunkHeader, value: "\(index)/\(count)")])
        }
        // The first chunk on its own: a snapshot's offset is where recovery will start.
        let first = try await producer.produce([chunks[0]])
        let rest = try await producer.produce(Array(chunks.dropFirst()))
        return CheckpointWrite(record: record, bytes: bytes.count, first: first, rest: rest, log: self)
    }

    /// Rebuilds partition `partition` from its log: the latest snapshot, then every complete epoch
    /// after it, in order. Incomplete or out-of-sequence epochs (a crash mid-write) are skipped.
    func recover(_ partition: Int32, application: Application, partitionOf: @escaping @Sendable (Address) -> Int32) async throws -> PartitionCore {
        var core = PartitionCore(partition: partition, application: application, maxRecordBytes: configuration.maxRecordBytes,
                                 transactionSettings: configuration.transactionSettings, partitionOf: partitionOf)
        let topicPartition = TopicPartition(configuration.checkpointTopic, partition)
        let committed = try await snapshotIndex.committed([topicPartition]).first?.offset ?? -1
        let start = committed >= 0 ? committed : TopicPartitionOffset.beginning

        var consumerConfiguration = KafkaConsumerConfiguration(bootstrapServers: configuration.bootstrapServers)
        consumerConfiguration.properties = configuration.kafkaProperties
        var records: [ConsumerRecord] = []
        try await KafkaConsumer.readToEnd([TopicPartitionOffset(topicPartition, offset: start)], configuration: consumerConfiguration,
                                          logger: logger) { records += $0 }

        var assembler = ChunkAssembler()
        var applied = 0
        var skipped = 0
        var restoredEpoch: Int64 = 0
        var bytes = 0
        for record in records {
            bytes += record.value?.count ?? 0
            guard let complete = assembler.add(record) else { continue }
            let epochRecord = try EpochRecord(decoding: complete)
            // The first record read may be the snapshot; after it, epochs must follow on. Others
            // are epochs of an earlier owner that were never durable as a whole sequence.
            guard epochRecord.epoch == restoredEpoch + 1 || (epochRecord.isSnapshot && applied == 0) else {
                skipped += 1
                continue
            }
            try core.restore(epochRecord)
            restoredEpoch = epochRecord.epoch
            applied += 1
        }
        logger.info("partition recovered", metadata: [
            "statefun.partition": "\(partition)", "statefun.epochs": "\(applied)", "statefun.skipped": "\(skipped)", "statefun.bytes": "\(bytes)",
            "statefun.addresses": "\(core.addressCount)", "statefun.epoch": "\(restoredEpoch)", "statefun.positions": "\(core.positions)",
        ])
        return core
    }
}

/// An epoch record handed to the producer.
struct CheckpointWrite: Sendable {
    let record: EpochRecord
    let bytes: Int
    let first: PendingDelivery
    let rest: PendingDelivery
    let log: CheckpointLog

    /// Returns once every chunk is acknowledged; for a snapshot, also points the snapshot group at it.
    func durable() async throws(KafkaError) {
        let start = try await first.acknowledged()
        try await rest.acknowledged()
        guard record.isSnapshot, let start else { return }
        try await log.snapshotIndex.commit([TopicPartitionOffset(log.configuration.checkpointTopic, record.partition, offset: start.offset)])
        log.logger.debug("snapshot written", metadata: ["statefun.partition": "\(record.partition)", "statefun.epoch": "\(record.epoch)",
                                                        "statefun.bytes": "\(bytes)"])
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
