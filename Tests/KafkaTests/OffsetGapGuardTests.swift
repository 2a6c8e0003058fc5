import Kafka
import Testing

@Suite struct OffsetGapGuardTests {
    let partition = TopicPartition("t", 0)
    let start = ContinuousClock.now

    @Test func recordsInOrderAreTakenAndRepeatsDropped() {
        var guardian = OffsetGapGuard()
        #expect(guardian.check(partition, offset: 7, expected: nil) == .take)
        #expect(guardian.check(partition, offset: 8, expected: 8) == .take)
        #expect(guardian.check(partition, offset: 5, expected: 9) == .drop)
    }

    /// A gap is fetched again, at most once per interval, until the skipped records come. One
    /// that stays for `attempts` intervals is real: the reader fetches from the first record
    /// seen after it and takes that one, however late the records after it come.
    @Test func aGapIsFetchedAgainUntilFilledOrFoundReal() {
        var guardian = OffsetGapGuard()
        guardian.attempts = 3
        guardian.interval = .milliseconds(200)
        func at(_ milliseconds: Int) -> ContinuousClock.Instant { start + .milliseconds(milliseconds) }
        #expect(guardian.check(partition, offset: 14, expected: 10, now: at(0)) == .refetch(from: 10, at: at(0)))
        // What the first fetch again brings (or what was fetched before it) schedules the next.
        #expect(guardian.check(partition, offset: 14, expected: 10, now: at(10)) == .refetch(from: 10, at: at(200)))
        #expect(guardian.check(partition, offset: 15, expected: 10, now: at(50)) == .drop)
        #expect(guardian.check(partition, offset: 14, expected: 10, now: at(250)) == .refetch(from: 10, at: at(400)))
        // The skipped records came: reading goes on, and a later gap starts counting afresh.
        #expect(guardian.check(partition, offset: 10, expected: 10, now: at(300)) == .take)
        #expect(guardian.check(partition, offset: 22, expected: 20, now: at(1_000)) == .refetch(from: 20, at: at(1_000)))
        #expect(guardian.check(partition, offset: 22, expected: 20, now: at(1_010)) == .refetch(from: 20, at: at(1_200)))
        #expect(guardian.check(partition, offset: 22, expected: 20, now: at(1_210)) == .refetch(from: 20, at: at(1_400)))
        // Three intervals after it was seen, the gap is real.
        #expect(guardian.check(partition, offset: 40, expected: 20, now: at(1_410)) == .refetch(from: 22, at: at(1_600)))
        #expect(guardian.check(partition, offset: 41, expected: 20, now: at(1_500)) == .drop)
        #expect(guardian.check(partition, offset: 22, expected: 20, now: at(1_610)) == .takeAfterGap)
        #expect(guardian.check(partition, offset: 23, expected: 23, now: at(1_620)) == .take)
    }

    /// The records a fetch again brings can come before its interval has passed, and then no
    /// more come when nothing new is written to the partition. They must not be dropped
    /// without another fetch scheduled: reading would stop for good at the gap.
    @Test func everyRecordDroppedAfterAGapHasAFetchAfterIt() {
        var guardian = OffsetGapGuard()
        var scheduled = start
        var now = start
        var takenAt: ContinuousClock.Instant?
        while takenAt == nil, now < start + .seconds(5) {
            switch guardian.check(partition, offset: 545, expected: 544, now: now) {
            case .refetch(let from, let at):
                #expect(from == 544 || (from == 545 && at - start >= .seconds(1)), "fetched from \(from)")
                scheduled = at
            case .drop:
                #expect(now <= scheduled, "a record after the gap is dropped with no fetch due after it")
            case .takeAfterGap:
                takenAt = now
            case .take:
                Issue.record("545 is not the expected record")
            }
            now = now + .milliseconds(30)
        }
        // Five intervals of 200 ms: the gap is real, and the record after it is taken.
        #expect(takenAt.map { $0 - start >= .seconds(1) && $0 - start < .milliseconds(1_300) } == true,
                "taken after \(takenAt.map { $0 - start } ?? .zero)")
    }
}
