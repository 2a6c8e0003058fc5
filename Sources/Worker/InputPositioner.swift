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
    /// The input topics, each read at the partition's number.
    let inputs: [String]
    let seek: @Sendable ([TopicPartitionOffset]) async throws -> Void
    let resume: @Sendable (Int32) -> Void
    let logger: Logger
    var attempts = 50
    var pause: Duration = .milliseconds(100)

    /// Where `partition`'s inputs are read from: its checkpointed positions, and the beginning
    /// of an input it never read. Every input is sought: records fetched before the
    /// partition's task was there to take them were dropped, and the fetch has moved past them.
    func offsets(_ partition: Int32, from positions: [String: Int64]) -> [TopicPartitionOffset] {
        inputs.map { TopicPartitionOffset($0, partition, offset: positions[$0] ?? TopicPartitionOffset.beginning) }
    }

    func position(_ partition: Int32, from positions: [String: Int64]) async throws {
        do {
            try await seekRetrying(offsets(partition, from: positions), attempts: attempts, pause: pause, seek: seek) { attempt, error in
                if attempt == 1 { logger.warning("seek of partition \(partition) refused, retrying: \(error)") }
            }
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw WorkerError(.inputsNotPositioned, "partition \(partition): seek refused \(attempts) times: \(error)")
        }
        resume(partition)
    }
}

/// Seeks to `offsets`, retrying a refused seek up to `attempts` times, `pause` apart;
/// `refused` hears each refusal that is retried. Throws the last refusal.
func seekRetrying(
    _ offsets: [TopicPartitionOffset], attempts: Int, pause: Duration,
    seek: ([TopicPartitionOffset]) async throws -> Void, refused: (Int, any Error) -> Void = { _, _ in }
) async throws {
    for attempt in 1... {
        do {
            return try await seek(offsets)
        } catch where attempt < attempts {
            refused(attempt, error)
            try await Task.sleep(for: pause)
        }
    }
}
