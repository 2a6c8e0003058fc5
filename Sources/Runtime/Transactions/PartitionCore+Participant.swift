import StatefulFunctions

/// The participant side of the transaction protocols: strict two-phase locking with prepared
/// changes kept aside until the decision, saga steps and compensations.
extension PartitionCore {
    // MARK: Two-phase commit

    mutating func prepare(_ request: PrepareRequest, at address: Address, now: Int64) {
        switch locks[address]?.admission(of: request) ?? .grant {
        case .grant:
            grant(request, at: address, now: now)
        case .wait:
            changeLock(at: address, .appendWaiter(.prepare(request)))
            locks[address]!.queuedAt[request.ref] = now
            trackWaits(at: address, now: now)
        case .ignore:
            return
        }
    }

    /// Runs the request's invocations one after the other on a copy of the address's state,
    /// keeps their changes under the lock, and votes. A remote function holds the lock from now
    /// on; its endpoint's answer brings the changes and the vote (`hold`).
    private mutating func grant(_ request: PrepareRequest, at address: Address, now: Int64) {
        let binding = application.binding(for: address.type)
        if let endpoint = binding?.remote, !request.messages.isEmpty {
            changeLock(at: address, .appendHolder(LockHolder(request: request, writes: [], effects: [])))
            let invocations = request.messages.map {
                RemoteInvocation(caller: request.coordinator, message: $0, origin: .function(request.coordinator),
                                 transaction: .prepare(request.ref))
            }
            return enqueueRemote(address, endpoint: endpoint, invocations, now: now)
        }
        var state = currentState(of: address)
        var writes: [StateWrite] = []
        var effects: [Effect] = []
        var results: [Message?] = []
        var refusal: TransactionFailure?
        for (position, message) in request.messages.enumerated() {
            let outcome = application.invoke(address, binding: binding, caller: request.coordinator, message: message,
                                             state: state, now: now, transactional: true, in: context)
            if case .failed(let reason) = outcome {
                refusal = Self.failure(of: reason)
                break
            }
            let isLast = position == request.messages.count - 1
            for write in context.writes {
                // The next message sees this one's writes; after the last, only `writes` is kept.
                if !isLast { state[write.name] = write.cell }
                if let index = writes.firstIndex(where: { $0.name == write.name }) { writes[index] = write } else { writes.append(write) }
            }
            effects += context.effects
            results.append(context.result)
        }
        if refusal == nil, request.readOnly, !writes.isEmpty { refusal = .readOnlyWrite(at: address) }
        if let refusal {
            return send(.vote(request.ref, participant: address, vote: .no(refusal)), from: address, to: request.coordinator, now: now)
        }
        changeLock(at: address, .appendHolder(LockHolder(request: request, writes: writes, effects: effects)))
        send(.vote(request.ref, participant: address, vote: .yes(results)), from: address, to: request.coordinator, now: now)
    }

    /// Commit or abort at a participant: applies or drops the prepared changes (or withdraws a
    /// waiting prepare) and lets the waiters in.
    mutating func conclude(_ ref: TransactionRef, at address: Address, commit: Bool, now: Int64) {
        guard let entry = locks[address] else { return }
        switch entry.release(ref, commit: commit) {
        case .holder(let index):
            let holder = entry.holders[index]
            changeLock(at: address, .removeHolder(index))
            if commit {
                apply(holder.writes, at: address)
                perform(holder.effects, from: address, now: now)
            }
        case .waiter(let index):
            locks[address]!.queuedAt[ref] = nil
            changeLock(at: address, .removeWaiter(index))
        case .none:
            return
        }
        admitWaiters(at: address, now: now)
    }

    /// Withdraws the lock `ref` took at `address` before it voted (its remote invocations
    /// failed), votes no, and lets the waiters in.
    mutating func refuse(_ ref: TransactionRef, at address: Address, _ failure: TransactionFailure, now: Int64) {
        guard let index = locks[address]?.holderIndex(ref) else { return }
        let coordinator = locks[address]!.holders[index].request.coordinator
        changeLock(at: address, .removeHolder(index))
        send(.vote(ref, participant: address, vote: .no(failure)), from: address, to: coordinator, now: now)
        admitWaiters(at: address, now: now)
    }

    /// Runs the waiters at the head of the queue that may run now, in order.
    private mutating func admitWaiters(at address: Address, now: Int64) {
        while let head = locks[address]?.admissibleHead {
            if case .prepare(let request) = head, let since = locks[address]!.queuedAt.removeValue(forKey: request.ref) {
                statistics.lockWaits.append(now - since)
            }
            changeLock(at: address, .removeWaiter(0))
            switch head {
            case .message(let caller, let payload, let origin): dispatch(address, caller: caller, payload: payload, origin: origin, now: now)
            case .prepare(let request): grant(request, at: address, now: now)
            }
        }
        trackWaits(at: address, now: now)
    }

    /// Changes the lock entry of `address` (dropping it once free) and records the change for
    /// the checkpoint: an epoch stores the changes of a lock, not the whole queue again.
    mutating func changeLock(at address: Address, _ change: LockChange) {
        // Through the entry's index: every lock and release changes one, so hash once.
        if let index = locks.index(forKey: address) {
            locks.values[index].apply(change)
            if locks.values[index].isFree { locks.remove(at: index) }
        } else {
            var entry = LockEntry()
            entry.apply(change)
            if open.lockChanges[address] == nil { open.newLocks.insert(address) }
            if !entry.isFree { locks[address] = entry }
        }
        open.lockChanges[address, default: []].append(change)
    }

    // MARK: Sagas

    /// Runs a saga step or compensation like a plain invocation, and reports to the coordinator
    /// (a remote function's once its endpoint has answered).
    mutating func runStep(
        _ ref: TransactionRef, coordinator: Address, index: Int32, message: Message, at address: Address, compensation: Bool,
        now: Int64
    ) {
        if let endpoint = application.binding(for: address.type)?.remote {
            let step = RemoteStep(ref: ref, coordinator: coordinator, index: index, compensation: compensation)
            let invocation = RemoteInvocation(caller: coordinator, message: message, origin: .function(coordinator),
                                              transaction: .step(step))
            return enqueueRemote(address, endpoint: endpoint, [invocation], now: now)
        }
        let outcome = application.invoke(address, binding: application.binding(for: address.type), caller: coordinator,
                                         message: message, state: currentState(of: address), now: now, transactional: true,
                                         in: context)
        var failure: TransactionFailure?
        var result: Message?
        if case .failed(let reason) = outcome {
            failure = Self.failure(of: reason)
        } else {
            result = context.result
            apply(context.writes, at: address)
            perform(context.effects, from: address, now: now)
        }
        let report: TransactionMessage = compensation
            ? .compensated(ref, index: index, failure: failure)
            : .stepDone(ref, index: index, result: result, failure: failure)
        send(report, from: address, to: coordinator, now: now)
    }

    /// A failed invocation as the coordinator sees it: the participant's error, or the engine's
    /// reason with its code.
    static func failure(of reason: DeadLetterReason) -> TransactionFailure {
        if case .rejected(let why, let code) = reason { TransactionFailure(code: code, reason: why) }
        else { TransactionFailure(code: reason.code, reason: reason.description) }
    }
}

extension TransactionFailure {
    /// A read-only 2PC invocation changed its address's state.
    static func readOnlyWrite(at address: Address) -> TransactionFailure {
        TransactionFailure(code: "read-only-write", reason: "\(address) changed its state in a read-only invocation")
    }
}
