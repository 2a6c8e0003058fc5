import Synchronization
import Testing

@testable import Worker

/// The lease of a worker's group membership, on a clock the test moves: a silence longer than
/// the session timeout minus one heartbeat interval ends it for good.
@Suite struct SessionLeaseTests {
    final class Clock: Sendable {
        let nanoseconds = Atomic<UInt64>(1_000_000_000)
        func advance(milliseconds: UInt64) { nanoseconds.add(milliseconds * 1_000_000, ordering: .relaxed) }
    }

    final class Lapses: Sendable {
        let silences = Mutex<[UInt64]>([])
    }

    static func lease(_ clock: Clock, _ lapses: Lapses) -> SessionLease {
        SessionLease(sessionTimeoutMilliseconds: 900, clock: { clock.nanoseconds.load(ordering: .relaxed) }) { silence in
            lapses.silences.withLock { $0.append(silence) }
        }
    }

    @Test func regularTicksKeepTheLease() {
        let clock = Clock(), lapses = Lapses()
        let lease = Self.lease(clock, lapses)
        #expect(lease.limitNanoseconds == 600_000_000)
        for _ in 0..<100 {
            clock.advance(milliseconds: 599)
            #expect(lease.refusal() == nil)
            lease.tick()
        }
        #expect(lapses.silences.withLock { $0 }.isEmpty)
    }

    @Test func aLongSilenceRefusesAtOnceAndEndsTheLeaseForGood() throws {
        let clock = Clock(), lapses = Lapses()
        let lease = Self.lease(clock, lapses)
        lease.tick()
        clock.advance(milliseconds: 601)
        // Before the watch has run again: refused already.
        let before = try #require(lease.refusal())
        #expect(before.contains("601 ms"))
        lease.tick()
        #expect(lapses.silences.withLock { $0 } == [601])
        // Ticks as regular as ever do not bring it back, and it lapses once.
        for _ in 0..<5 {
            clock.advance(milliseconds: 50)
            lease.tick()
            #expect(lease.refusal()?.contains("was silent for 601 ms") == true)
        }
        clock.advance(milliseconds: 5_000)
        lease.tick()
        #expect(lapses.silences.withLock { $0 } == [601])
    }
}
