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

    /// A gap is fetched again (not more often than the interval) until the skipped records
    /// come. One that stays after every attempt is real: the reader fetches from the first
    /// record seen after it and takes that one, however late the records after it come.
    @Test func aGapIsFetchedAgainUntilFilledOrFoundReal() {
        var guardian = OffsetGapGuard()
        guardian.attempts = 3
        guardian.interval = .milliseconds(200)
        #expect(guardian.check(partition, offset: 14, expected: 10, now: start) == .refetch(from: 10))
        #expect(guardian.check(partition, offset: 15, expected: 10, now: start + .milliseconds(50)) == .drop)
        #expect(guardian.check(partition, offset: 14, expected: 10, now: start + .milliseconds(250)) == .refetch(from: 10))
        // The skipped records came: reading goes on, and a later gap starts counting afresh.
        #expect(guardian.check(partition, offset: 10, expected: 10, now: start + .milliseconds(300)) == .take)
        #expect(guardian.check(partition, offset: 22, expected: 20, now: start + .milliseconds(310)) == .refetch(from: 20))
        #expect(guardian.check(partition, offset: 22, expected: 20, now: start + .milliseconds(520)) == .refetch(from: 20))
        #expect(guardian.check(partition, offset: 22, expected: 20, now: start + .milliseconds(730)) == .refetch(from: 20))
        #expect(guardian.check(partition, offset: 40, expected: 20, now: start + .milliseconds(940)) == .refetch(from: 22))
        #expect(guardian.check(partition, offset: 41, expected: 20, now: start + .milliseconds(950)) == .drop)
        #expect(guardian.check(partition, offset: 22, expected: 20, now: start + .milliseconds(960)) == .takeAfterGap)
        #expect(guardian.check(partition, offset: 23, expected: 23, now: start + .milliseconds(970)) == .take)
    }
}
