import Synchronization

/// The queue of one partition task: many senders, one reader that takes everything waiting
/// at once (so a busy partition processes its input in batches).
final class Mailbox<Event: Sendable>: Sendable {
    private struct State {
        var events: [Event] = []
        var reader: CheckedContinuation<[Event], Never>?
        var closed = false
    }

    private let state = Mutex(State())

    /// Adds `event`; returns false once the mailbox is closed.
    @discardableResult
    func post(_ event: Event) -> Bool {
        let reader = state.withLock { state -> CheckedContinuation<[Event], Never>? in
            guard !state.closed else { return nil }
            state.events.append(event)
            guard let reader = state.reader else { return nil }
            state.reader = nil
            return reader
        }
        guard let reader else { return !isClosed }
        reader.resume(returning: takeAll())
        return true
    }

    /// Everything waiting, or (when nothing is) the next events to arrive. Empty once closed.
    func next() async -> [Event] {
        let ready = takeAll()
        if !ready.isEmpty { return ready }
        return await withCheckedContinuation { continuation in
            let immediate = state.withLock { state -> [Event]? in
                if !state.events.isEmpty || state.closed {
                    defer { state.events = [] }
                    return state.events
                }
                state.reader = continuation
                return nil
            }
            if let immediate { continuation.resume(returning: immediate) }
        }
    }

    /// Stops accepting events and wakes the reader with what is left.
    func close() {
        let reader = state.withLock { state -> CheckedContinuation<[Event], Never>? in
            state.closed = true
            defer { state.reader = nil }
            return state.reader
        }
        reader?.resume(returning: takeAll())
    }

    var isClosed: Bool { state.withLock { $0.closed } }

    /// What is waiting, without waiting for more (possibly nothing).
    func drain() -> [Event] { takeAll() }

    private func takeAll() -> [Event] {
        state.withLock { state in
            defer { state.events = [] }
            return state.events
        }
    }
}
