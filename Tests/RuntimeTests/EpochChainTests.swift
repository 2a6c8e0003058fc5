import Runtime
import StatefulFunctions
import Testing

private let counter: TypeName = "test/counter"
private let count = ValueSpec<Int>("count")

private func application() -> Application {
    var app = Application(name: "chain-test")
    app.bind(counter, states: [count]) { context, _ in try context.set(count, (try context.get(count) ?? 0) + 1) }
    app.ingress(IngressBinding(topic: "in", type: counter, codec: .raw))
    return app
}

/// Writes a partition's checkpoint log as runs of a partition would: each epoch counts one
/// ingress record at address "x", so the count after a replay says how many epochs counted.
private struct LogWriter {
    private(set) var log: [EpochRecord] = []
    private var core = PartitionCore(partition: 0, application: application(), partitionOf: { _ in 0 })
    private var incarnation: UInt64 = 0
    private var previous = EpochPosition.none

    /// Starts a run that recovered the history `EpochChain` finds in the log so far.
    mutating func recover(_ incarnation: UInt64, markedStable: Int64 = 0) throws {
        core = PartitionCore(partition: 0, application: application(), partitionOf: { _ in 0 })
        let chain = try EpochChain.valid(log, markedStable: markedStable)
        for record in chain { try core.restore(record) }
        previous = chain.last.map { EpochPosition(incarnation: $0.lineage.incarnation, epoch: $0.epoch) } ?? .none
        self.incarnation = incarnation
    }

    /// Writes one epoch, through the wire format; returns the partition's snapshot after it
    /// (as the worker writes it to the snapshot topic).
    @discardableResult
    mutating func epoch(dependsOn dependencies: [EpochRef] = [], stableThrough: Int64 = 0) throws -> EpochRecord {
        core.process(.ingress(IngressRecord(topic: "in", key: Array("x".utf8), value: []),
                              position: InputPosition(topic: "in", offset: core.positions["in"] ?? 0)), now: 0)
        var record = try #require(try core.closeEpoch()).record
        record.lineage = EpochLineage(incarnation: incarnation, previous: previous, dependencies: dependencies,
                                      stableThrough: stableThrough, stabilityOffset: 7)
        previous = EpochPosition(incarnation: incarnation, epoch: record.epoch)
        log.append(try EpochRecord(decoding: record.encoded()))
        var snapshot = try core.image().record()
        snapshot.lineage = record.lineage
        return try EpochRecord(decoding: snapshot.encoded())
    }
}

/// An epoch of another partition that the tests' epochs depend on.
private let otherPartition = EpochRef(partition: 1, incarnation: 99, epoch: 4)

/// What a recovery applies: the epochs (incarnation, epoch) and the count they rebuild.
private func replay(_ log: [EpochRecord], markedStable: Int64) throws -> (epochs: [String], count: Int?) {
    let chain = try EpochChain.valid(log, markedStable: markedStable)
    var core = PartitionCore(partition: 0, application: application(), partitionOf: { _ in 0 })
    for record in chain { try core.restore(record) }
    return (chain.map { "\($0.lineage.incarnation):\($0.epoch)" }, try core.state(count, of: Address(counter, "x")))
}

@Suite struct EpochChainTests {
    /// Epoch 4 depends on an epoch of another partition that never became stable: it is
    /// discarded, and so is epoch 5, which follows it although it depends on nothing itself.
    @Test func anEpochDependingOnOneThatNeverBecameStableIsDiscardedWithWhatFollows() throws {
        var writer = LogWriter()
        try writer.recover(1)
        try writer.epoch()
        try writer.epoch(dependsOn: [otherPartition])
        try writer.epoch(dependsOn: [otherPartition], stableThrough: 1)
        try writer.epoch(dependsOn: [otherPartition])
        try writer.epoch()
        #expect(EpochChain.lastIncarnation(writer.log)?.incarnation == 1)
        #expect(EpochChain.lastIncarnation(writer.log)?.stabilityOffset == 7)

        let marked = try replay(writer.log, markedStable: 3)
        #expect(marked.epochs == ["1:1", "1:2", "1:3"])
        #expect(marked.count == 3)
        #expect(EpochChain.cutOff(writer.log, valid: try EpochChain.valid(writer.log, markedStable: 3)) == 2)
        // Without the stability log's mark, the records' own marks reach epoch 1 only, and
        // epoch 2 depends on the other partition.
        #expect(try replay(writer.log, markedStable: 0).epochs == ["1:1"])
    }

    @Test func epochsPastTheMarksCountWhileTheyDependOnNothing() throws {
        var writer = LogWriter()
        try writer.recover(1)
        try writer.epoch()
        try writer.epoch()
        try writer.epoch(dependsOn: [otherPartition])
        try writer.epoch()
        #expect(try replay(writer.log, markedStable: 0).epochs == ["1:1", "1:2"])
        #expect(try replay(writer.log, markedStable: 3).epochs == ["1:1", "1:2", "1:3", "1:4"])
    }

    /// A run recovers epochs 1-2 of the first; the first run's epochs 3-4 stay in the log (and
    /// one more of them is written late, by a worker that lost the partition) but never count
    /// again, whatever later marks say.
    @Test func aNewRunFollowsOnFromTheLastValidEpochAndTheCutOffTailNeverCounts() throws {
        var writer = LogWriter()
        try writer.recover(1)
        try writer.epoch()
        try writer.epoch()
        try writer.epoch(dependsOn: [otherPartition])
        try writer.epoch()
        try writer.recover(2, markedStable: 2)
        try writer.epoch()
        try writer.epoch(dependsOn: [otherPartition])
        let replayed = try replay(writer.log, markedStable: 0)
        #expect(replayed.epochs == ["1:1", "1:2", "2:3"])
        #expect(replayed.count == 3)
        #expect(try replay(writer.log, markedStable: 4).epochs == ["1:1", "1:2", "2:3", "2:4"])
    }

    /// The second run wrote epochs and was cut off before any became stable; the third run
    /// recovered the first run's history and follows on from it: the second run never counts.
    @Test func aRunThatNoLaterRunFollowedNeverCounts() throws {
        var writer = LogWriter()
        try writer.recover(1)
        try writer.epoch()
        try writer.epoch()
        try writer.recover(2, markedStable: 2)
        try writer.epoch(dependsOn: [otherPartition])
        try writer.epoch(dependsOn: [otherPartition])
        try writer.recover(3)
        #expect(try EpochChain.valid(writer.log, markedStable: 0).count == 2, "the second run's epochs depend on another partition")
        try writer.epoch()
        let replayed = try replay(writer.log, markedStable: 0)
        #expect(replayed.epochs == ["1:1", "1:2", "3:3"])
        #expect(replayed.count == 3)
        #expect(EpochChain.cutOff(writer.log, valid: try EpochChain.valid(writer.log, markedStable: 0)) == 2,
                "the second run's two epochs")
    }

    /// Recovery reads from the latest snapshot: the history starts there, and links back past
    /// it are not needed.
    @Test func aHistoryReadFromASnapshotStartsThere() throws {
        var writer = LogWriter()
        try writer.recover(1)
        try writer.epoch()
        let snapshot = try writer.epoch()
        let snapshotAt = writer.log.count - 1
        try writer.epoch()
        try writer.recover(2, markedStable: 3)
        try writer.epoch()
        let fromSnapshot = EpochChain.records(snapshot: snapshot, log: Array(writer.log[snapshotAt...]))
        #expect(fromSnapshot.count == writer.log.count - snapshotAt, "the snapshot stands in for its own epoch's record")
        let replayed = try replay(fromSnapshot, markedStable: 0)
        #expect(replayed.epochs == ["1:2", "1:3", "2:4"])
        #expect(replayed.count == 4)
    }

    @Test func anEmptyLogHasNoHistory() throws {
        #expect(EpochChain.lastIncarnation([]) == nil)
        #expect(try EpochChain.valid([], markedStable: 5).isEmpty)
    }
}
