import Kafka
import Logging
import Synchronization
import Testing

@testable import Worker

/// A recovered partition's inputs are resumed only once they are positioned at the
/// checkpoint: a refused seek is retried, and never followed by a resume.
@Suite struct InputPositionerTests {
    struct Refused: Error {}

    /// Counts seeks (refusing the first `refusals`) and records resumes.
    final class FakeConsumer: Sendable {
        let refusals: Int
        let seeks = Mutex(0)
        let resumed = Mutex<[Int32]>([])

        init(refusals: Int) { self.refusals = refusals }

        func positioner() -> InputPositioner {
            var positioner = InputPositioner(
                seek: { [self] _ in
                    let attempt = seeks.withLock { seeks in
                        seeks += 1
                        return seeks
                    }
                    if attempt <= refusals { throw Refused() }
                },
                resume: { [self] partition in resumed.withLock { $0.append(partition) } },
                logger: Logger(label: "test"))
            positioner.attempts = 5
            positioner.pause = .milliseconds(1)
            return positioner
        }
    }

    let offsets = [TopicPartitionOffset("internal", 3, offset: 42)]

    @Test func aRefusedSeekIsRetriedBeforeTheInputsResume() async throws {
        let consumer = FakeConsumer(refusals: 3)
        try await consumer.positioner().position(3, at: offsets)
        #expect(consumer.seeks.withLock { $0 } == 4)
        #expect(consumer.resumed.withLock { $0 } == [3])
    }

    @Test func aSeekRefusedEveryTimeFailsThePartitionAndLeavesItsInputsPaused() async throws {
        let consumer = FakeConsumer(refusals: .max)
        await #expect(throws: WorkerError.self) { try await consumer.positioner().position(3, at: offsets) }
        #expect(consumer.seeks.withLock { $0 } == 5)
        #expect(consumer.resumed.withLock { $0 }.isEmpty)
    }

    @Test func aPartitionWithNoCheckpointedPositionResumesWithoutSeeking() async throws {
        let consumer = FakeConsumer(refusals: .max)
        try await consumer.positioner().position(3, at: [])
        #expect(consumer.seeks.withLock { $0 } == 0)
        #expect(consumer.resumed.withLock { $0 } == [3])
    }
}
