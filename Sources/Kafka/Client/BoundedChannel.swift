import Foundation

/// A bounded hand-over from one producing thread to one async reader.
///
/// `push` blocks the producing thread while `capacity` elements wait, which is the
/// backpressure that keeps a slow reader's memory bounded. `next` suspends the reader until
/// an element arrives, the channel finishes, or the reading task is cancelled.
final class BoundedChannel<Element: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    private var buffer: [Element] = []
    private var head = 0
    private var waiter: CheckedContinuation<Element?, Never>?
    private var finished = false
    private let capacity: Int

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// Hands `element` to the reader, blocking while the buffer is full. Returns false (and drops
    /// the element) once the channel is finished.
    @discardableResult
    func push(_ element: Element) -> Bool {
        condition.lock()
        while buffer.count - head >= capacity && !finished { condition.wait() }
        if finished {
            condition.unlock()
            return false
        }
        if let waiter {
            self.waiter = nil
            condition.unlock()
            waiter.resume(returning: element)
            return true
        }
        buffer.append(element)
        condition.unlock()
        return true
    }

    /// The next element, or nil when the channel is finished and drained or the task is cancelled.
    func next() async -> Element? {
        if let ready = condition.withLock({ popLocked() }) { return ready }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                condition.lock()
                if let element = popLocked() {
                    condition.unlock()
                    continuation.resume(returning: element)
                } else if finished || Task.isCancelled {
                    condition.unlock()
                    continuation.resume(returning: nil)
                } else {
                    waiter = continuation
                    condition.unlock()
                }
            }
        } onCancel: {
            let cancelled = condition.withLock { () -> CheckedContinuation<Element?, Never>? in
                defer { waiter = nil }
                return waiter
            }
            cancelled?.resume(returning: nil)
        }
    }

    /// Ends the channel: waiting pushes return, the reader gets what is buffered, then nil.
    func finish() {
        condition.lock()
        finished = true
        let waiting = waiter
        waiter = nil
        condition.broadcast()
        condition.unlock()
        waiting?.resume(returning: nil)
    }

    /// Must hold the lock. Wakes a pusher waiting for room.
    private func popLocked() -> Element? {
        guard head < buffer.count else { return nil }
        let element = buffer[head]
        head += 1
        if head == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            head = 0
        }
        condition.signal()
        return element
    }
}
