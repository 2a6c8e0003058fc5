import Kafka
import Logging
import Synchronization
import Testing

@testable import Worker

/// A recovered partition's inputs are resumed only once they are positioned at the
/// checkpoint: a refused seek is retried, and never followed by a resume.
@Suite struct InputPositionerTests {
    struct Refused: Error {}

    /// Counts seeks (refusing the first `refusals`) and records what they sought and resumed.
    final class FakeConsumer: Sendable {
        let refusals: Int
        let seeks = Mutex(0)
        let sought = Mutex<[TopicPartitionOffset]>([])
        let resumed = Mutex<[Int32]>([])

        init(refusals: Int) { self.refusals = refusals }

        func positioner() -> InputPositioner {
            var positioner = InputPositioner(
                inputs: ["internal", "requests"],
                seek: { [self] offsets in
                    sought.withLock { $0 = offsets }
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

    let positions: [String: Int64] = ["internal": 42, "requests": 7]

    @Test func aRefusedSeekIsRetriedBeforeTheInputsResume() async throws {
        let consumer = FakeConsumer(refusals: 3)
        try await consumer.positioner().position(3, from: positions)
        #expect(consumer.seeks.withLock { $0 } == 4)
        #expect(consumer.resumed.withLock { $0 } == [3])
    }

    @Test func aSeekRefusedEveryTimeFailsThePartitionAndLeavesItsInputsPaused() async throws {
        let consumer = FakeConsumer(refusals: .max)
        await #expect(throws: WorkerError.self) { try await consumer.positioner().position(3, from: positions) }
        #expect(consumer.seeks.withLock { $0 } == 5)
        #expect(consumer.resumed.withLock { $0 }.isEmpty)
    }

    @Test func everyInputIsSoughtAndOneNeverReadFromItsBeginning() async throws {
        let consumer = FakeConsumer(refusals: 0)
        try await consumer.positioner().position(3, from: ["requests": 7])
        #expect(consumer.sought.withLock { $0 } == [TopicPartitionOffset("internal", 3, offset: TopicPartitionOffset.beginning),
                                                    TopicPartitionOffset("requests", 3, offset: 7)])
        #expect(consumer.resumed.withLock { $0 } == [3])
    }
}
