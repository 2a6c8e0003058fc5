import Runtime
import Testing

private func ref(_ partition: Int32, _ epoch: Int64, incarnation: UInt64? = nil) -> EpochRef {
    EpochRef(partition: partition, incarnation: incarnation ?? UInt64(partition) + 100, epoch: epoch)
}

/// A tracker with partitions 0, 1 and 2 registered, each recovered through epoch 0.
private func tracker(partitions: [Int32] = [0, 1, 2]) -> StabilityTracker {
    var tracker = StabilityTracker()
    for partition in partitions {
        tracker.register(partition: partition, incarnation: UInt64(partition) + 100, recovered: 0, offset: 0)
    }
    return tracker
}

private func stable(_ partition: Int32, through: Int64, offset: Int64 = 0) -> StabilityTracker.Action {
    .stable(partition: partition, incarnation: UInt64(partition) + 100, through: through, offset: offset)
}

private func mark(_ partition: Int32, _ through: Int64) -> EpochRef { ref(partition, through) }

@Suite struct StabilityTrackerTests {
    /// An epoch that depends on no other partition counts as soon as it is durable: its own
    /// log proves it, no mark is needed.
    @Test func anEpochWithoutDependenciesIsStableOnceDurable() {
        var tracker = tracker()
        #expect(tracker.durable(ref(0, 2), dependencies: []).isEmpty, "epoch 1 is not durable yet")
        #expect(tracker.durable(ref(0, 1), dependencies: []) == [stable(0, through: 2)])
    }

    /// A coordinator and a participant depend on each other: neither is stable until both are
    /// durable, then one mark records both.
    @Test func epochsThatDependOnEachOtherBecomeStableTogetherThroughOneMark() {
        var tracker = tracker()
        #expect(tracker.durable(ref(0, 1), dependencies: [ref(1, 1)]).isEmpty)
        #expect(tracker.durable(ref(1, 1), dependencies: [ref(0, 1)]) == [.writeMarks([mark(0, 1), mark(1, 1)])])
        #expect(tracker.marksInFlight == 1)
        #expect(tracker.durable(ref(0, 2), dependencies: []).isEmpty, "its predecessor is not recorded yet")
        let actions = tracker.marksWritten([mark(0, 1), mark(1, 1)], offset: 42)
        #expect(Set(actions.map { "\($0)" }) == Set([stable(0, through: 2, offset: 42), stable(1, through: 1, offset: 42)].map { "\($0)" }))
        #expect(tracker.marksInFlight == 0)
    }

    /// Partition 1's epoch 2 depends on partition 2's epoch 1, which never becomes durable:
    /// it never becomes stable, nor does anything after it or depending on it.
    @Test func anEpochDependingOnOneNeverDurableNeverBecomesStable() {
        var tracker = tracker()
        _ = tracker.durable(ref(1, 1), dependencies: [])
        #expect(tracker.durable(ref(1, 2), dependencies: [ref(2, 1)]).isEmpty)
        #expect(tracker.durable(ref(1, 3), dependencies: []).isEmpty)
        #expect(tracker.durable(ref(0, 1), dependencies: [ref(1, 3)]).isEmpty)
        #expect(tracker.unresolved([ref(1, 1), ref(1, 2)]) == [ref(1, 2)])
        // Once it is durable, all of them are, and one mark covers them.
        #expect(tracker.durable(ref(2, 1), dependencies: []) == [stable(2, through: 1), .writeMarks([mark(0, 1), mark(1, 3)])])
    }

    @Test func atMostTwoMarksAreWrittenAtOnceAndNoneTwiceForTheSameEpochs() {
        var tracker = tracker()
        #expect(tracker.durable(ref(0, 1), dependencies: [ref(9, 1)]).isEmpty, "an unknown partition never resolves")
        _ = tracker.end(partition: 0, incarnation: 100, clean: true)
        #expect(tracker.durable(ref(1, 1), dependencies: [ref(0, 0)]) == [.writeMarks([mark(1, 1)])])
        #expect(tracker.durable(ref(2, 1), dependencies: [ref(0, 0)]) == [.writeMarks([mark(1, 1), mark(2, 1)])])
        #expect(tracker.durable(ref(1, 2), dependencies: [ref(0, 0)]).isEmpty, "two marks are being written")
        #expect(tracker.marksFailed() == [.writeMarks([mark(1, 2), mark(2, 1)])], "a failed mark is written again, with what is new")
    }

    /// A partition that fails loses its epochs not yet stable; every other partition of the
    /// worker may depend on them, so all start over, once.
    @Test func aFailedPartitionFailsEveryOtherOnce() {
        var tracker = tracker()
        let failures = tracker.end(partition: 2, incarnation: 102, clean: false)
        #expect(Set(failures.map { "\($0)" }) == Set([Int32(0), 1].map {
            "\(StabilityTracker.Action.fail(partition: $0, incarnation: UInt64($0) + 100, reason: "partition 2 of this worker failed"))"
        }))
        #expect(tracker.end(partition: 0, incarnation: 100, clean: false).isEmpty, "a partition failed by another fails no more")
        // The partition's next run starts afresh.
        tracker.register(partition: 2, incarnation: 7, recovered: 5, offset: 3)
        #expect(tracker.durable(EpochRef(partition: 2, incarnation: 7, epoch: 6), dependencies: []) ==
                [.stable(partition: 2, incarnation: 7, through: 6, offset: 3)])
    }

    /// A partition handed over cleanly had every epoch recorded stable: epochs depending on
    /// them need nothing more.
    @Test func aCleanEndResolvesWhatDependsOnIt() {
        var tracker = tracker()
        _ = tracker.durable(ref(0, 1), dependencies: [])
        _ = tracker.end(partition: 0, incarnation: 100, clean: true)
        #expect(tracker.unresolved([ref(0, 1)]).isEmpty)
        #expect(tracker.durable(ref(1, 1), dependencies: [ref(0, 1)]) == [.writeMarks([mark(1, 1)])])
    }

    @Test func marksSurviveTheirEncoding() throws {
        let marks = [mark(0, 1), EpochRef(partition: 7, incarnation: .max, epoch: 1 << 40)]
        #expect(try StabilityTracker.marks(decoding: StabilityTracker.encodedMarks(marks)) == marks)
    }
}
