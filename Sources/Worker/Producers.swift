import Kafka
import Logging

/// A worker's three producers, each on connections of its own.
/// - `checkpoints`: epoch records and stability marks. Every output waits for them, so they go
///   out at once (no lingering).
/// - `outputs`: egress, dead letters and messages to other workers; they wait up to
///   `outputLingerMilliseconds` to fill batches (see `WorkerConfiguration`).
/// - `snapshots`: whole partitions, megabytes at a time, which no epoch record should queue behind.
///
/// All refuse every record once `fence` gives a reason (see `SessionLease`).
struct Producers: Sendable {
    let checkpoints: KafkaProducer
    let outputs: KafkaProducer
    let snapshots: KafkaProducer

    init(configuration: WorkerConfiguration, fence: @escaping @Sendable () -> String?, logger: Logger) throws {
        var checkpointConfiguration = KafkaProducerConfiguration(bootstrapServers: configuration.bootstrapServers)
        checkpointConfiguration.lingerMilliseconds = 0
        checkpointConfiguration.properties = configuration.kafkaProperties
        checkpointConfiguration.fence = fence
        var outputConfiguration = checkpointConfiguration
        outputConfiguration.lingerMilliseconds = configuration.outputLingerMilliseconds
        checkpoints = try KafkaProducer(configuration: checkpointConfiguration, logger: logger)
        outputs = try KafkaProducer(configuration: outputConfiguration, logger: logger)
        snapshots = try KafkaProducer(configuration: checkpointConfiguration, logger: logger)
    }

    /// Shuts every producer down, even when one fails; returns the first failure.
    func shutdown() async -> (any Error)? {
        var failure: (any Error)?
        for producer in [outputs, checkpoints, snapshots] {
            do { try await producer.shutdown() } catch { failure = failure ?? error }
        }
        return failure
    }
}
