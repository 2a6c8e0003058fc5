import StatefulFunctions

/// Where protocol messages go: to the participant side or to the coordinator side.
extension PartitionCore {
    /// Whether a payload for a locked address must wait for the lock: everything that runs a
    /// function, except prepares, which queue themselves.
    func waitsForLock(_ payload: Payload) -> Bool {
        switch payload {
        case .message, .transaction(.step), .transaction(.compensate): true
        case .transaction: false
        }
    }

    mutating func handle(_ message: TransactionMessage, at target: Address, now: Int64) {
        switch message {
        case .prepare(let request): prepare(request, at: target, now: now)
        case .commit(let ref): conclude(ref, at: target, commit: true, now: now)
        case .abort(let ref): conclude(ref, at: target, commit: false, now: now)
        case .step(let ref, let coordinator, let index, let message):
            runStep(ref, coordinator: coordinator, index: index, message: message, at: target, compensation: false, now: now)
        case .compensate(let ref, let coordinator, let index, let message):
            runStep(ref, coordinator: coordinator, index: index, message: message, at: target, compensation: true, now: now)
        case .vote(let ref, let participant, let vote): receive(vote, of: participant, for: ref, at: target, now: now)
        case .stepDone(let ref, let index, let result, let failure):
            stepDone(ref, index: Int(index), result: result, failure: failure, at: target, now: now)
        case .compensated(let ref, let index, let failure):
            compensated(ref, index: Int(index), failure: failure, at: target, now: now)
        case .waitReport(let report): receiveWaits(report, now: now)
        case .victim(let ref, let since): abortVictim(ref, since: since, at: target, now: now)
        case .timeout(let ref): timeOut(ref, at: target, now: now)
        case .retryCompensation(let ref, let index): retryCompensation(ref, index: Int(index), at: target, now: now)
        }
    }

    /// Sends a protocol message from `sender` to `target`, through the outbox when `target` is elsewhere.
    mutating func send(_ message: TransactionMessage, from sender: Address, to target: Address, now: Int64) {
        route(target, caller: sender, payload: .transaction(message), origin: .function(sender), now: now)
    }
}
