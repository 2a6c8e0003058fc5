import StatefulFunctions

/// A delayed message waiting in its sender's partition.
public struct PendingTimer: Sendable {
    public var sequence: Int64
    public var due: Int64
    public var sender: Address
    public var target: Address
    public var payload: Payload
    public var cancellationToken: String?
}

/// Pending delayed messages of one partition, by due time; cancellable by (sender, token).
struct TimerTable {
    private struct TokenKey: Hashable {
        let sender: Address
        let token: String
    }

    private(set) var timers: [Int64: PendingTimer] = [:]
    private var byToken: [TokenKey: Int64] = [:]
    /// Min-heap of (due, sequence); entries of removed timers are skipped lazily.
    private var heap: [(due: Int64, sequence: Int64)] = []

    var count: Int { timers.count }

    /// Adds `timer`. A pending timer of the same sender with the same token is replaced, and its
    /// sequence returned so the caller can log the removal.
    @discardableResult
    mutating func add(_ timer: PendingTimer) -> Int64? {
        var replaced: Int64?
        if let token = timer.cancellationToken {
            let key = TokenKey(sender: timer.sender, token: token)
            replaced = byToken[key].flatMap { remove($0)?.sequence }
            byToken[key] = timer.sequence
        }
        timers[timer.sequence] = timer
        push((timer.due, timer.sequence))
        return replaced
    }

    /// Removes the pending timer `sender` registered with `token`; returns it.
    mutating func cancel(sender: Address, token: String) -> PendingTimer? {
        guard let sequence = byToken[TokenKey(sender: sender, token: token)] else { return nil }
        return remove(sequence)
    }

    @discardableResult
    mutating func remove(_ sequence: Int64) -> PendingTimer? {
        guard let timer = timers.removeValue(forKey: sequence) else { return nil }
        if let token = timer.cancellationToken {
            let key = TokenKey(sender: timer.sender, token: token)
            if byToken[key] == sequence { byToken[key] = nil }
        }
        return timer
    }

    /// The earliest due time of a pending timer.
    mutating func nextDue() -> Int64? {
        while let top = heap.first {
            if timers[top.sequence] != nil { return top.due }
            popTop()
        }
        return nil
    }

    /// Removes and returns the timers due at `now`, earliest first.
    mutating func takeDue(now: Int64) -> [PendingTimer] {
        var due: [PendingTimer] = []
        while let top = heap.first, top.due <= now {
            popTop()
            if let timer = remove(top.sequence) { due.append(timer) }
        }
        return due
    }

    private mutating func push(_ entry: (due: Int64, sequence: Int64)) {
        heap.append(entry)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.less(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func popTop() {
        heap.swapAt(0, heap.count - 1)
        heap.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < heap.count, Self.less(heap[left], heap[smallest]) { smallest = left }
            if right < heap.count, Self.less(heap[right], heap[smallest]) { smallest = right }
            if smallest == parent { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }

    private static func less(_ a: (due: Int64, sequence: Int64), _ b: (due: Int64, sequence: Int64)) -> Bool {
        (a.due, a.sequence) < (b.due, b.sequence)
    }
}
