import Kafka
import Logging
import Runtime
import Synchronization

/// The worker's `StabilityTracker` with its I/O: it writes the marks to the stability topic
/// and tells each partition task when its epochs are recorded stable, or that it must start
/// over.
final class StabilityLog: Sendable {
    /// What a partition task hears.
    enum Notice: Sendable {
        /// Epochs through `through` are recorded stable; `offset` is where the stability log
        /// holds this incarnation's marks from now on.
        case stable(through: Int64, offset: Int64)
        case failed(String)
    }

    private struct State {
        var tracker = StabilityTracker()
        var listeners: [Int32: (incarnation: UInt64, notify: @Sendable (Notice) -> Void)] = [:]
    }

    private let state = Mutex(State())
    private let producer: KafkaProducer
    private let topic: String
    private let logger: Logger

    init(producer: KafkaProducer, topic: String, logger: Logger) {
        self.producer = producer
        self.topic = topic
        self.logger = logger
    }

    /// Starts tracking a partition's new incarnation, recovered through epoch `recovered`.
    func register(_ partition: Int32, incarnation: UInt64, recovered: Int64, offset: Int64,
                  notify: @escaping @Sendable (Notice) -> Void) {
        state.withLock { state in
            state.tracker.register(partition: partition, incarnation: incarnation, recovered: recovered, offset: offset)
            state.listeners[partition] = (incarnation, notify)
        }
    }

    /// The dependencies not yet recorded stable.
    func unresolved(_ dependencies: [EpochRef]) -> [EpochRef] {
        dependencies.isEmpty ? [] : state.withLock { $0.tracker.unresolved(dependencies) }
    }

    func durable(_ epoch: EpochRef, dependencies: [EpochRef]) {
        perform { $0.durable(epoch, dependencies: dependencies) }
    }

    /// The incarnation has ended; a failure makes every other partition start over.
    func end(_ partition: Int32, incarnation: UInt64, clean: Bool) {
        perform { $0.end(partition: partition, incarnation: incarnation, clean: clean) }
        state.withLock { state in
            if state.listeners[partition]?.incarnation == incarnation { state.listeners[partition] = nil }
        }
    }

    /// Waits until no mark is being written, so that a recovery reads every mark that will
    /// ever be written for the incarnations before it (at most 10 s).
    func quiesce() async {
        for _ in 0..<2_000 {
            if state.withLock({ $0.tracker.marksInFlight }) == 0 { return }
            try? await Task.sleep(for: .milliseconds(5))
        }
        logger.warning("marks still being written after 10 s: recovering without waiting for them")
    }

    private func perform(_ change: (inout StabilityTracker) -> [StabilityTracker.Action]) {
        let (actions, listeners) = state.withLock { state in (change(&state.tracker), state.listeners) }
        for action in actions {
            switch action {
            case .stable(let partition, let incarnation, let through, let offset):
                if let listener = listeners[partition], listener.incarnation == incarnation {
                    listener.notify(.stable(through: through, offset: offset))
                }
            case .fail(let partition, let incarnation, let reason):
                if let listener = listeners[partition], listener.incarnation == incarnation { listener.notify(.failed(reason)) }
            case .writeMarks(let marks):
                write(marks)
            }
        }
    }

    private func write(_ marks: [EpochRef]) {
        let record = ProducerRecord(topic: topic, partition: 0, value: StabilityTracker.encodedMarks(marks))
        let producer = producer, logger = logger
        Task {
            do {
                let report = try await producer.send(record)
                perform { $0.marksWritten(marks, offset: report.offset) }
            } catch {
                logger.warning("stability marks not written, writing them again", metadata: ["kafka.error": "\(error)"])
                try? await Task.sleep(for: .milliseconds(100))
                perform { $0.marksFailed() }
            }
        }
    }
}
