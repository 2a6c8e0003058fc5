import Kafka
import Logging

/// Moves a recovered partition's inputs to its checkpointed positions, then resumes them.
///
/// librdkafka refuses a seek (`Local: Erroneous state`) until the group's assignment has
/// started fetching the partition, which can lag behind a quick recovery when the broker is
/// slow. Resuming after a refused seek would read from wherever the fetch starts and skip
/// input, so a refused seek is retried, and if it keeps failing the partition fails (and is
/// recovered again while this worker still owns it); its inputs stay paused meanwhile.
struct InputPositioner: Sendable {
    let seek: @Sendable ([TopicPartitionOffset]) async throws -> Void
    let resume: @Sendable (Int32) -> Void
    let logger: Logger
    var attempts = 50
    var pause: Duration = .milliseconds(100)

    func position(_ partition: Int32, at offsets: [TopicPartitionOffset]) async throws {
        var attempt = 1
        while !offsets.isEmpty {
            do {
                try await seek(offsets)
                break
            } catch {
                guard attempt < attempts else {
                    throw WorkerError(.inputsNotPositioned, "partition \(partition): seek refused \(attempts) times: \(error)")
                }
                if attempt == 1 { logger.warning("seek of partition \(partition) refused, retrying: \(error)") }
                attempt += 1
                try await Task.sleep(for: pause)
            }
        }
        resume(partition)
    }
}
