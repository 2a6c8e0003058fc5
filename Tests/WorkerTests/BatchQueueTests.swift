import Testing

@testable import Worker

/// A partition task takes the records it was handed a few at a time: every record once, in
/// the order handed, and a stop drops exactly those not yet taken.
@Suite struct BatchQueueTests {
    @Test func itemsComeOutOnceInOrderAtMostTheLimitAtATime() {
        var queue = BatchQueue<Int>()
        queue.append(Array(0..<5))
        queue.append([])
        queue.append(Array(5..<12))
        var taken: [[Int]] = []
        while !queue.isEmpty { taken.append(Array(queue.take(3))) }
        // A take ends with its batch: 3 + 2 from the first, 3 + 3 + 1 from the second.
        #expect(taken == [[0, 1, 2], [3, 4], [5, 6, 7], [8, 9, 10], [11]])
        #expect(queue.take(3).isEmpty)
    }

    @Test func removingAllCountsOnlyWhatWasNotTaken() {
        var queue = BatchQueue<Int>()
        queue.append(Array(0..<10))
        queue.append(Array(10..<14))
        #expect(Array(queue.take(4)) == [0, 1, 2, 3])
        #expect(queue.removeAll() == 10)
        #expect(queue.isEmpty)
        queue.append([20])
        #expect(Array(queue.take(64)) == [20])
    }
}
