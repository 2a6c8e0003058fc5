import Foundation
import Synchronization
import Testing
@testable import Kafka

@Suite struct BoundedChannelTests {
    @Test func aFullChannelHoldsThePusherUntilTheReaderTakes() async throws {
        let channel = BoundedChannel<Int>(capacity: 2)
        let pushed = Atomic<Int>(0)
        let pusher = Thread {
            for value in 0..<5 {
                channel.push(value)
                pushed.add(1, ordering: .relaxed)
            }
        }
        pusher.start()
        try await eventually("two pushes") { pushed.load(ordering: .relaxed) == 2 }
        try await Task.sleep(for: .milliseconds(200))
        #expect(pushed.load(ordering: .relaxed) == 2, "the third push waits for room")

        var received: [Int] = []
        for _ in 0..<5 { received.append(try #require(await channel.next())) }
        #expect(received == [0, 1, 2, 3, 4])
    }

    @Test func finishingReleasesAWaitingReaderAndDrainsFirst() async {
        let channel = BoundedChannel<Int>(capacity: 4)
        channel.push(7)
        channel.finish()
        #expect(await channel.next() == 7)
        #expect(await channel.next() == nil)
        #expect(channel.push(8) == false, "a finished channel refuses new elements")
    }

    @Test func cancellingTheReaderEndsItsWaitWithoutLosingLaterElements() async throws {
        let channel = BoundedChannel<Int>(capacity: 4)
        let reader = Task { await channel.next() }
        try await Task.sleep(for: .milliseconds(50))
        reader.cancel()
        #expect(await reader.value == nil)
        channel.push(1)
        #expect(await channel.next() == 1)
    }
}
