import Synchronization

/// Counts a partition's unprocessed input records and decides when to pause and resume its
/// inputs. Exactly one side resumes: whoever takes the paused flag back.
final class InputBacklog: Sendable {
    private let pending = Atomic<Int>(0)
    private let paused = Atomic<Bool>(false)
    private let high: Int
    private let low: Int

    init(high: Int) {
        self.high = max(1, high)
        low = max(0, high / 4)
    }

    /// Records `count` more queued; true when the caller should pause the inputs now.
    func queued(_ count: Int) -> Bool {
        let now = pending.add(count, ordering: .relaxed).newValue
        return now > high && paused.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
    }

    /// After pausing: true when the task caught up meanwhile and the caller should resume at once.
    func shouldResumeAfterPause() -> Bool {
        pending.load(ordering: .relaxed) <= low && takePause()
    }

    /// Records `count` processed; true when the caller should resume the inputs.
    func processed(_ count: Int) -> Bool {
        let now = pending.subtract(count, ordering: .relaxed).newValue
        return now <= low && paused.load(ordering: .relaxed) && takePause()
    }

    /// Records queued and not yet processed.
    var pendingCount: Int { pending.load(ordering: .relaxed) }

    /// Whether the inputs are paused for this backlog.
    var isPaused: Bool { paused.load(ordering: .relaxed) }

    private func takePause() -> Bool {
        paused.compareExchange(expected: true, desired: false, ordering: .acquiringAndReleasing).exchanged
    }
}
