import Foundation
import StatefulFunctions

/// The coordinator side of the transaction protocols. A coordinator address runs one
/// transaction at a time; its progress is partition state (checkpointed with the epoch) and,
/// when configured, a record per step on the transaction log topic.
extension PartitionCore {
    static var timeoutToken: String { "statefun/transaction-timeout" }

    /// A request for a coordinator: starts its transaction, or queues it behind the running one.
    mutating func request(
        at coordinator: Address, spec: CoordinatorSpec, caller: Address?, message: Message, origin: InvocationOrigin, now: Int64
    ) {
        if coordinators[coordinator] != nil {
            coordinators[coordinator]!.queue.append(QueuedRequest(caller: caller, request: message))
            open.dirtyCoordinators.insert(coordinator)
            return
        }
        start(at: coordinator, spec: spec, caller: caller, request: message, origin: origin, now: now)
    }

    private mutating func start(
        at coordinator: Address, spec: CoordinatorSpec, caller: Address?, request: Message, origin: InvocationOrigin, now: Int64
    ) {
        guard let binding = application.binding(for: coordinator.type) else { return }
        let (outcome, plan) = application.plan(coordinator, binding: binding, spec: spec, caller: caller, request: request,
                                               state: currentState(of: coordinator), now: now, in: context)
        if case .failed(let reason) = outcome {
            deadLetter(reason, origin: origin, target: coordinator, key: Array(coordinator.id.utf8), value: request.payload)
            return startNext(at: coordinator, spec: spec, now: now)
        }
        apply(context.writes, at: coordinator)
        perform(context.effects, from: coordinator, now: now)
        // An exception handler answered instead of a plan.
        guard let plan else { return startNext(at: coordinator, spec: spec, now: now) }

        let id = takeID()
        var transaction = ActiveTransaction(
            ref: TransactionRef(id: id, attempt: 1), coordinator: coordinator, priority: TransactionPriority(startedAt: now, id: id),
            transactionProtocol: spec.transactionProtocol, caller: caller, request: request, invocations: plan.invocations,
            results: Array(repeating: nil, count: plan.invocations.count))
        if coordinators[coordinator] == nil, !open.dirtyCoordinators.contains(coordinator) { open.newCoordinators.insert(coordinator) }
        coordinators[coordinator, default: CoordinatorEntry()].active = transaction
        open.dirtyCoordinators.insert(coordinator)
        if let unknown = plan.invocations.first(where: { application.binding(for: $0.address.type) == nil }) {
            return end(transaction, .failed(Self.failure(of: .unknownFunctionType(unknown.address.type))), now: now)
        }
        if plan.invocations.isEmpty { return end(transaction, .committed, now: now) }
        switch spec.transactionProtocol {
        case .twoPhaseCommit:
            transaction.votes = TwoPhaseVotes(invocations: plan.invocations)
            perform(transaction.votes.start(), of: transaction, now: now)
            schedule(.transaction(.timeout(transaction.ref)), from: coordinator, to: coordinator,
                     at: now + transactionSettings.timeoutMilliseconds, token: Self.timeoutToken)
        case .saga:
            transaction.saga = SagaSteps(stageStarts: plan.stageStarts, compensable: transaction.compensable)
            let actions = transaction.saga.start()
            logStart(transaction)
            return perform(actions, of: transaction, now: now)
        }
        logStart(transaction)
    }

    /// The running transaction of `coordinator` if `ref` is its current attempt.
    private func active(_ ref: TransactionRef, at coordinator: Address) -> ActiveTransaction? {
        guard let transaction = coordinators[coordinator]?.active, transaction.ref == ref else { return nil }
        return transaction
    }

    private mutating func store(_ transaction: ActiveTransaction) {
        coordinators[transaction.coordinator]!.active = transaction
        open.dirtyCoordinators.insert(transaction.coordinator)
    }

    // MARK: Two-phase commit

    mutating func receive(_ vote: Vote, of participant: Address, for ref: TransactionRef, at coordinator: Address, now: Int64) {
        guard var transaction = active(ref, at: coordinator) else {
            // A yes for an attempt that ended: it was aborted (a committed attempt had every
            // yes before it ended). The participant took the lock after the abort passed it,
            // when a rebalance reordered the two; release it.
            if case .yes = vote { send(.abort(ref), from: coordinator, to: participant, now: now) }
            return
        }
        guard transaction.transactionProtocol == .twoPhaseCommit,
              let invocations = transaction.votes.awaitedInvocations(of: participant)
        else { return }
        switch vote {
        case .yes(let results):
            for (result, index) in zip(results, invocations) { transaction.results[Int(index)] = result }
            let actions = transaction.votes.vote(of: participant, yes: true)
            perform(actions, of: transaction, finishing: .committed, now: now)
        case .no(let failure):
            let actions = transaction.votes.vote(of: participant, yes: false)
            perform(actions, of: transaction, finishing: .failed(failure), now: now)
        }
    }

    /// Chosen as the victim of a deadlock: abort this attempt and start the next one with the
    /// same priority, or give up after the configured number of retries.
    mutating func abortVictim(_ ref: TransactionRef, since: Int64, at coordinator: Address, now: Int64) {
        guard var transaction = active(ref, at: coordinator), transaction.transactionProtocol == .twoPhaseCommit else { return }
        statistics.deadlocks += 1
        statistics.detectionLatencies.append(now - since)
        if Int(ref.attempt) > transactionSettings.maxDeadlockRetries {
            return perform(transaction.votes.abandon(), of: transaction,
                           finishing: .retryableAbort(reason: "deadlock victim \(ref.attempt) times"), now: now)
        }
        perform(transaction.votes.aborts(), of: transaction, now: now)
        transaction.ref.attempt += 1
        transaction.results = Array(repeating: nil, count: transaction.results.count)
        let prepares = transaction.votes.retry()
        perform(prepares, of: transaction, now: now)
        log(transaction, "retrying")
    }

    mutating func timeOut(_ ref: TransactionRef, at coordinator: Address, now: Int64) {
        guard let transaction = coordinators[coordinator]?.active, transaction.ref.id == ref.id,
              transaction.transactionProtocol == .twoPhaseCommit
        else { return }
        statistics.timeouts += 1
        perform(transaction.votes.abandon(), of: transaction,
                finishing: .retryableAbort(reason: "not decided within \(transactionSettings.timeoutMilliseconds) ms"), now: now)
    }

    /// Sends what the votes ask for; `status` is the outcome when they decide the attempt.
    private mutating func perform(_ actions: [TwoPhaseVotes.Action], of transaction: ActiveTransaction,
                                  finishing status: TransactionOutcome.Status = .committed, now: Int64) {
        for action in actions {
            switch action {
            case .prepare(let index):
                let participant = transaction.votes.participants[index]
                let request = PrepareRequest(
                    ref: transaction.ref, coordinator: transaction.coordinator, priority: transaction.priority,
                    messages: participant.invocations.map { transaction.invocations[Int($0)].message }, readOnly: participant.readOnly)
                send(.prepare(request), from: transaction.coordinator, to: participant.address, now: now)
            case .commit(let participant):
                send(.commit(transaction.ref), from: transaction.coordinator, to: participant, now: now)
            case .abort(let participant):
                send(.abort(transaction.ref), from: transaction.coordinator, to: participant, now: now)
            case .finish:
                return end(transaction, status, now: now)
            }
        }
        store(transaction)
    }

    // MARK: Sagas

    mutating func stepDone(_ ref: TransactionRef, index: Int, result: Message?, failure: TransactionFailure?,
                           at coordinator: Address, now: Int64) {
        guard var transaction = active(ref, at: coordinator), transaction.saga.isRunning(index) else { return }
        if let failure {
            if transaction.failure == nil {
                transaction.failure = failure
                log(transaction, "compensating")
            }
        } else {
            transaction.results[index] = result
        }
        perform(transaction.saga.stepDone(index, failed: failure != nil), of: transaction, now: now)
    }

    mutating func compensated(_ ref: TransactionRef, index: Int, failure: TransactionFailure?, at coordinator: Address, now: Int64) {
        guard var transaction = active(ref, at: coordinator), transaction.saga.isCompensating(index) else { return }
        if failure != nil {
            // Tried again until it succeeds.
            return schedule(.transaction(.retryCompensation(ref, index: Int32(index))), from: coordinator, to: coordinator,
                            at: now + transactionSettings.compensationRetryMilliseconds,
                            token: "statefun/compensation-\(index)")
        }
        perform(transaction.saga.compensated(index), of: transaction, now: now)
    }

    mutating func retryCompensation(_ ref: TransactionRef, index: Int, at coordinator: Address, now: Int64) {
        guard let transaction = active(ref, at: coordinator), transaction.saga.isCompensating(index) else { return }
        perform([.compensate(index)], of: transaction, now: now)
    }

    /// Sends the steps and compensations the saga asks for, and ends it once settled.
    private mutating func perform(_ actions: [SagaSteps.Action], of transaction: ActiveTransaction, now: Int64) {
        for action in actions {
            switch action {
            case .run(let index):
                let invocation = transaction.invocations[index]
                send(.step(transaction.ref, coordinator: transaction.coordinator, index: Int32(index), message: invocation.message),
                     from: transaction.coordinator, to: invocation.address, now: now)
            case .compensate(let index):
                let invocation = transaction.invocations[index]
                guard let compensation = invocation.compensation else { continue }
                send(.compensate(transaction.ref, coordinator: transaction.coordinator, index: Int32(index), message: compensation),
                     from: transaction.coordinator, to: invocation.address, now: now)
            case .finish:
                return end(transaction, transaction.failure.map { .failed($0) } ?? .committed, now: now)
            }
        }
        store(transaction)
    }

    // MARK: End

    /// Reports the outcome to the coordinator's outcome handler and starts the next queued request.
    private mutating func end(_ transaction: ActiveTransaction, _ status: TransactionOutcome.Status, now: Int64) {
        let coordinator = transaction.coordinator
        // A 2PC transaction that did not commit applied nothing, so nothing it returned holds.
        let results = transaction.transactionProtocol == .twoPhaseCommit && status != .committed
            ? Array(repeating: nil, count: transaction.results.count) : transaction.results
        switch status {
        case .committed: statistics.committed += 1
        case .failed: statistics.failed += 1
        case .retryableAbort: statistics.retryableAborts += 1
        }
        if transaction.transactionProtocol == .twoPhaseCommit { cancelTimer(of: coordinator, token: Self.timeoutToken) }
        coordinators[coordinator]!.active = nil
        open.dirtyCoordinators.insert(coordinator)
        log(transaction, status)

        guard let binding = application.binding(for: coordinator.type), let spec = binding.coordinator else { return }
        let outcome = TransactionOutcome(status: status, request: transaction.request, results: results,
                                         transactionID: transaction.id, attempts: Int(transaction.ref.attempt))
        let result = application.finish(coordinator, binding: binding, spec: spec, caller: transaction.caller, outcome: outcome,
                                        state: currentState(of: coordinator), now: now, in: context)
        if case .failed(let reason) = result {
            deadLetter(reason, origin: .function(transaction.caller), target: coordinator, key: Array(coordinator.id.utf8),
                       value: transaction.request.payload)
        } else {
            apply(context.writes, at: coordinator)
            perform(context.effects, from: coordinator, now: now)
        }
        startNext(at: coordinator, spec: spec, now: now)
    }

    private mutating func startNext(at coordinator: Address, spec: CoordinatorSpec, now: Int64) {
        guard var entry = coordinators[coordinator], entry.active == nil else { return }
        guard !entry.queue.isEmpty else {
            coordinators[coordinator] = nil
            open.dirtyCoordinators.insert(coordinator)
            return
        }
        let next = entry.queue.removeFirst()
        coordinators[coordinator] = entry.isIdle ? nil : entry
        open.dirtyCoordinators.insert(coordinator)
        start(at: coordinator, spec: spec, caller: next.caller, request: next.request, origin: .function(next.caller), now: now)
    }

    // MARK: Transaction log

    /// Records that `transaction` started. The record waits for the epoch to close, and is
    /// dropped if the transaction ends first: its outcome supersedes it (as compaction would).
    private mutating func logStart(_ transaction: ActiveTransaction) {
        guard transactionSettings.logTopic != nil else { return }
        open.pendingStarts[transaction.coordinator] = open.startLogs.count
        open.startLogs.append(transaction)
    }

    private mutating func log(_ transaction: ActiveTransaction, _ status: TransactionOutcome.Status) {
        if let index = open.pendingStarts.removeValue(forKey: transaction.coordinator) { open.startLogs[index] = nil }
        switch status {
        case .committed: log(transaction, "committed")
        case .failed(let failure): log(transaction, "failed", reason: failure.reason, code: failure.code)
        case .retryableAbort(let reason): log(transaction, "aborted", reason: reason)
        }
    }

    /// Records a step of `transaction` now, after its start if that still waits.
    private mutating func log(_ transaction: ActiveTransaction, _ state: String, reason: String? = nil, code: String? = nil) {
        guard let record = logRecord(transaction, state, reason: reason, code: code) else { return }
        if let index = open.pendingStarts.removeValue(forKey: transaction.coordinator), let start = open.startLogs[index] {
            open.startLogs[index] = nil
            emitStart(start)
        }
        emit(record)
    }

    /// Writes the start records of the transactions still running as the epoch closes.
    mutating func emitPendingStarts() {
        for case let transaction? in open.startLogs { emitStart(transaction) }
        open.startLogs = []
        open.pendingStarts = [:]
    }

    /// Writes the start record of `transaction`, as it was when it started.
    private mutating func emitStart(_ transaction: ActiveTransaction) {
        if let record = logRecord(transaction, "started") { emit(record) }
    }

    /// A step of `transaction` for the log topic, keyed by transaction id (a compacted topic
    /// keeps the latest step of each); nil without a log topic.
    private func logRecord(_ transaction: ActiveTransaction, _ state: String, reason: String? = nil,
                           code: String? = nil) -> EgressRecord? {
        guard let topic = transactionSettings.logTopic else { return nil }
        // Keys in alphabetical order, as `JSONEncoder` with sorted keys would write them.
        var record = JSONObjectWriter()
        record.field("attempt", Int64(transaction.ref.attempt))
        if let code { record.field("code", code) }
        record.field("coordinator", transaction.coordinator.description)
        record.field("participants", transaction.invocations.map(\.address.description))
        record.field("protocol", transaction.transactionProtocol.rawValue)
        if let reason { record.field("reason", reason) }
        record.field("state", state)
        record.field("transaction", transaction.id)
        return EgressRecord(topic: topic, key: Array(transaction.id.utf8), value: record.finished())
    }
}
