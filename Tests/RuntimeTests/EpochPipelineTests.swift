import Runtime
import StatefulFunctions
import Testing

/// The path of closed epochs from sealing to release, without I/O.
@Suite struct EpochPipelineTests {
    private static let echo: TypeName = "test/echo"

    private static func core() -> PartitionCore {
        var app = Application(name: "pipeline-test")
        app.bind(echo) { context, message in
            context.egress(EgressRecord(topic: "out", key: context.address.id, value: message.text ?? ""))
        }
        app.ingress(IngressBinding(topic: "in", type: echo, codec: .raw))
        return PartitionCore(partition: 0, application: app, partitionOf: { _ in 0 })
    }

    /// Processes one record and closes the epoch.
    private static func close(_ core: inout PartitionCore, _ value: String, offset: Int64) throws -> (EpochRecord, [LocalAck: Int]) {
        core.process(.ingress(IngressRecord(topic: "in", key: Array("k".utf8), value: Array(value.utf8)),
                              position: InputPosition(topic: "in", offset: offset)), now: 0)
        let result = try core.closeEpoch()
        let closed = try #require(result)
        return (closed.record, closed.acks)
    }

    @Test func epochsAreReleasedInOrderOnceRecordedStable() throws {
        var core = Self.core()
        var epochs = EpochPipeline(partition: 0, incarnation: 7, recovered: EpochPosition(incarnation: 3, epoch: 0),
                                   stabilityOffset: 10)
        let sender = EpochRef(partition: 1, incarnation: 2, epoch: 9)
        let noted = epochs.noteDependency(on: sender) { $0 }
        #expect(noted)
        let (first, firstAcks) = try Self.close(&core, "a", offset: 0)
        let sealed = epochs.seal(first, acks: firstAcks) { $0 }
        #expect(sealed.lineage.incarnation == 7)
        #expect(sealed.lineage.previous == EpochPosition(incarnation: 3, epoch: 0), "it follows the recovered head")
        #expect(sealed.lineage.dependencies == [sender])
        #expect(sealed.lineage.stableThrough == 0 && sealed.lineage.stabilityOffset == 10)

        let (second, secondAcks) = try Self.close(&core, "b", offset: 1)
        let next = epochs.seal(second, acks: secondAcks) { _ in [] }
        #expect(next.lineage.previous == EpochPosition(incarnation: 7, epoch: sealed.epoch))
        #expect(next.lineage.dependencies.isEmpty, "dependencies belong to the epoch that applied the messages")
        #expect(epochs.notDurable == 2)

        let answer = epochs.durable(next.epoch)
        let durable = try #require(answer)
        #expect(durable.epoch == EpochRef(partition: 0, incarnation: 7, epoch: next.epoch) && durable.dependencies.isEmpty)
        let early = epochs.stable(through: 0, offset: 11)
        #expect(early.isEmpty, "nothing newer than the recovered head is stable")
        let released = epochs.stable(through: next.epoch, offset: 12)
        #expect(released.map(\.record.epoch) == [sealed.epoch, next.epoch], "in epoch order")
        #expect(released.map { $0.record.ownOutbox.count } == [1, 1])
        #expect(released.first?.senders == [1: 2])
        #expect(epochs.isEmpty && epochs.stableThrough == next.epoch && epochs.stabilityOffset == 12)
        let again = epochs.stable(through: next.epoch, offset: 13)
        #expect(again.isEmpty, "a repeated mark releases nothing")
    }

    @Test func messagesOfTwoRunsOfASenderAreRefusedUnlessTheEarlierOnesAreStable() {
        var epochs = EpochPipeline(partition: 0, incarnation: 1, recovered: EpochPosition(incarnation: 0, epoch: 0),
                                   stabilityOffset: 0)
        let earlier = EpochRef(partition: 1, incarnation: 5, epoch: 3)
        let restarted = EpochRef(partition: 1, incarnation: 6, epoch: 4)
        let first = epochs.noteDependency(on: earlier) { $0 }
        let unsafe = epochs.noteDependency(on: restarted) { $0 }
        let safe = epochs.noteDependency(on: restarted) { _ in [] }
        #expect(first)
        #expect(!unsafe, "the earlier run may have lost what this epoch applied")
        #expect(safe, "unless it is recorded stable")
    }

    @Test func passingThroughReleasesEachEpochAsItCloses() throws {
        var core = Self.core()
        var epochs = EpochPipeline(partition: 0, incarnation: 1, recovered: EpochPosition(incarnation: 0, epoch: 0),
                                   stabilityOffset: 0)
        let nothing = try epochs.passThrough(&core)
        #expect(nothing == nil, "no changes, no epoch")
        core.process(.ingress(IngressRecord(topic: "in", key: Array("k".utf8), value: Array("x".utf8)),
                              position: InputPosition(topic: "in", offset: 0)), now: 0)
        let passed = try epochs.passThrough(&core)
        let closed = try #require(passed)
        #expect(closed.record.ownOutbox.count == 1)
        #expect(epochs.isEmpty && epochs.notDurable == 0)
    }
}
