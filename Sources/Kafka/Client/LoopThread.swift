import Foundation
import Synchronization

/// A dedicated thread that repeats a blocking iteration (a librdkafka poll with a timeout)
/// until stopped. Blocking polls never run on Swift's cooperative pool.
final class LoopThread: Sendable {
    private struct State {
        var running = true
        var exited = false
        var exitWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    /// Starts the thread at once. `iteration` runs until `stop` or until it returns false;
    /// `finally` runs once on the thread before it exits.
    init(name: String, iteration: @escaping @Sendable () -> Bool, finally: @escaping @Sendable () -> Void = {}) {
        let thread = Thread { [self] in
            while state.withLock({ $0.running }), iteration() {}
            finally()
            let waiters = state.withLock { state in
                state.exited = true
                state.running = false
                defer { state.exitWaiters = [] }
                return state.exitWaiters
            }
            waiters.forEach { $0.resume() }
        }
        thread.name = name
        thread.start()
    }

    var isRunning: Bool { state.withLock { $0.running } }

    /// Asks the loop to end after the current iteration; `wake` interrupts a blocking wait.
    func requestStop(wake: () -> Void) {
        state.withLock { $0.running = false }
        wake()
    }

    /// Waits until the thread has run `finally` and exited.
    func waitForExit() async {
        await withCheckedContinuation { continuation in
            let alreadyExited = state.withLock { state in
                if state.exited { return true }
                state.exitWaiters.append(continuation)
                return false
            }
            if alreadyExited { continuation.resume() }
        }
    }
}

/// Runs a blocking librdkafka call (commit, admin request, metadata) off the cooperative pool.
func runBlocking<T: Sendable>(_ body: @escaping @Sendable () throws(KafkaError) -> T) async throws(KafkaError) -> T {
    let result: Result<T, KafkaError> = await withCheckedContinuation { continuation in
        DispatchQueue.global().async {
            continuation.resume(returning: Result { () throws(KafkaError) -> T in try body() })
        }
    }
    return try result.get()
}
