import StatefulFunctions

/// Remote functions: one request in flight per address, later invocations batched behind it.
/// A batch's answer is applied like an invocation's effects, in the epoch it arrives in; the
/// queue (with the batch) is checkpointed, so an answer is applied once across failures.
extension PartitionCore {
    /// Queues invocations of a remote address; sends them at once when nothing is in flight.
    mutating func enqueueRemote(_ target: Address, endpoint: RemoteEndpoint, _ invocations: [RemoteInvocation], now: Int64) {
        for invocation in invocations { remote.append(invocation, to: target) }
        if remote.queues[target]!.sent == 0 { startBatch(target, endpoint: endpoint, now: now) }
        remote.checkBound(target, bound: endpoint.maxBatchSize)
    }

    /// The calls to make since the last call, for the worker.
    public mutating func takeRemoteCalls() -> [RemoteCall] {
        defer { remote.starting = [] }
        return remote.starting
    }

    /// True while an address has a full batch waiting behind the one in flight: ingress waits.
    public var remoteBacklogFull: Bool { !remote.overfull.isEmpty }

    /// Sends the next batch of `address`: up to the endpoint's batch size of plain invocations,
    /// a saga step alone, or the invocations of one prepare; with every state value its type
    /// declared (expired ones as absent).
    private mutating func startBatch(_ address: Address, endpoint: RemoteEndpoint, now: Int64) {
        guard var queue = remote.queues[address], let head = queue.invocations.first else { return }
        queue.sent = switch head.transaction {
        case nil: queue.invocations.prefix(endpoint.maxBatchSize).prefix { $0.transaction == nil }.count
        case .step: 1
        case .prepare: queue.invocations.prefix { $0.transaction == head.transaction }.count
        }
        queue.ticket = remote.nextTicket()
        remote.queues[address] = queue
        let stored = currentState(of: address)
        let states = (remote.specs[address.type] ?? []).map { spec in
            let value = stored[spec.name].flatMap { try? RemoteValue($0) }
            let live = value.flatMap { $0.isExpired(at: now) ? nil : $0.value }
            return (spec.name, live ?? TypedValue(typeName: spec.typeName, value: nil))
        }
        let request = RemoteRequest(target: address, states: states,
                                    invocations: queue.invocations[..<queue.sent].map { ($0.caller, $0.message) })
        remote.starting.append(RemoteCall(ticket: queue.ticket, endpoint: endpoint, request: request))
    }

    /// Applies the outcome of `call`, then sends the address's next batch. An outcome for a call
    /// no longer in flight (made before a recovery) is ignored.
    public mutating func complete(_ call: RemoteCall, with outcome: RemoteOutcome, now: Int64) {
        let address = call.request.target
        guard let queue = remote.queues[address], queue.sent > 0, queue.ticket == call.ticket else { return }
        switch outcome {
        case .reply(.incomplete(let missing)):
            remote.declare(missing, for: address.type)
            let sent = Set(call.request.states.map(\.name))
            guard missing.contains(where: { !sent.contains($0.name) }) else {
                return fail(call, "the endpoint asks again for state values it was sent: \(missing.map(\.name))", now: now)
            }
            remote.queues[address]!.sent = 0
            startBatch(address, endpoint: call.endpoint, now: now)
        case .reply(.result(let result)):
            let batch = queue.invocations[..<queue.sent]
            if case .prepare(let ref)? = batch.first?.transaction {
                hold(result, for: ref, at: address, now: now)
            } else {
                // Before the next batch starts, which carries the state this one wrote.
                apply(result, at: address, now: now)
            }
            finishBatch(call, now: now)
            for step in batch.compactMap(\.step) {
                send(step.report(failure: nil), from: address, to: step.coordinator, now: now)
            }
        case .failed(let reason):
            fail(call, reason, now: now)
        }
        drain(now: now)
    }

    /// The endpoint never ran the batch to an answer: see `abandon`. The address moves on.
    private mutating func fail(_ call: RemoteCall, _ reason: String, now: Int64) {
        let why = DeadLetterReason.remoteCallFailed("\(call.url): \(reason)")
        abandon(finishBatch(call, now: now), at: call.request.target, why, now: now)
    }

    /// Invocations that will never run: dead letters, a failed saga step, or a prepare voting no.
    private mutating func abandon(_ invocations: ArraySlice<RemoteInvocation>, at address: Address, _ why: DeadLetterReason,
                                  now: Int64) {
        for invocation in invocations {
            switch invocation.transaction {
            case nil:
                deadLetter(why, origin: invocation.origin, target: address, key: Array(address.id.utf8), value: invocation.message.payload)
            case .step(let step)?:
                send(step.report(failure: Self.failure(of: why)), from: address, to: step.coordinator, now: now)
            case .prepare(let ref)?:
                refuse(ref, at: address, Self.failure(of: why), now: now)
            }
        }
    }

    /// A prepare's answer: its changes wait under the lock for the decision and the coordinator
    /// hears yes (no results: the protocol has none), or no when the answer breaks the terms. A
    /// transaction aborted while its call was in flight no longer holds the lock; its answer is
    /// dropped.
    private mutating func hold(_ result: RemoteResult, for ref: TransactionRef, at address: Address, now: Int64) {
        guard let index = locks[address]?.holderIndex(ref) else { return }
        let request = locks[address]!.holders[index].request
        let (effects, rejected) = effects(of: result, from: address)
        if let (reason, _) = rejected.first { return refuse(ref, at: address, Self.failure(of: reason), now: now) }
        if request.readOnly, !result.mutations.isEmpty { return refuse(ref, at: address, .readOnlyWrite(at: address), now: now) }
        changeLock(at: address, .removeHolder(index))
        changeLock(at: address, .appendHolder(LockHolder(request: request, writes: stateWrites(result, at: address, now: now),
                                                         effects: effects)))
        send(.vote(ref, participant: address, vote: .yes(request.messages.map { _ in nil })), from: address,
             to: request.coordinator, now: now)
    }

    /// Takes the batch in flight off the address's queue and sends the next one, if any.
    @discardableResult
    private mutating func finishBatch(_ call: RemoteCall, now: Int64) -> ArraySlice<RemoteInvocation> {
        let address = call.request.target
        let queue = remote.queues[address]!
        remote.removeFirst(queue.sent, of: address)
        startBatch(address, endpoint: call.endpoint, now: now)
        remote.checkBound(address, bound: call.endpoint.maxBatchSize)
        return queue.invocations[..<queue.sent]
    }

    /// Carries out a batch's effects in the protocol's order: messages, delayed messages and
    /// cancellations, egress, then state changes (and refreshes of values that expire after
    /// invocation). Egress the engine cannot write becomes dead letters.
    private mutating func apply(_ result: RemoteResult, at address: Address, now: Int64) {
        let (effects, rejected) = effects(of: result, from: address)
        perform(effects, from: address, now: now)
        for (reason, value) in rejected {
            deadLetter(reason, origin: .function(address), key: Array(address.id.utf8), value: value)
        }
        apply(stateWrites(result, at: address, now: now), at: address)
    }

    /// A batch's messages, delayed messages and egress as effects, in the protocol's order, and
    /// the egress records that cannot be written (only Kafka egress records can).
    private func effects(of result: RemoteResult, from address: Address)
        -> (effects: [Effect], rejected: [(reason: DeadLetterReason, value: [UInt8]?)]) {
        var effects = result.messages.map { Effect.send(to: $0.to, message: $0.message) }
        for delayed in result.delayed {
            switch delayed {
            case .send(let target, let message, let delay, let token):
                effects.append(.sendDelayed(to: target, message: message, delayMilliseconds: delay, cancellationToken: token))
            case .cancel(let token):
                effects.append(.cancelDelayed(cancellationToken: token))
            }
        }
        var rejected: [(reason: DeadLetterReason, value: [UInt8]?)] = []
        for egress in result.egress {
            guard egress.argument.typeName == KafkaEgressRecord.typeName, let value = egress.argument.value else {
                rejected.append((.rejected("egress \(egress.egress) got a \(egress.argument.typeName); only Kafka egress records are supported"),
                                 egress.argument.value))
                continue
            }
            do { effects.append(.egress(try KafkaEgressRecord.decode(value))) } catch {
                rejected.append((.undecodable("Kafka egress record from \(address): \(error)"), value))
            }
        }
        return (effects, rejected)
    }

    private func stateWrites(_ result: RemoteResult, at address: Address, now: Int64) -> [StateWrite] {
        let specs = remote.specs[address.type] ?? []
        var writes: [StateWrite] = []
        for (name, value) in result.mutations {
            let spec = specs.first { $0.name == name }
            let expiresAt: Int64? = switch spec?.expiration {
            case .afterWrite(let after)?, .afterInvoke(let after)?: now.clamped(plus: after)
            case .never?, nil: nil
            }
            writes.append(StateWrite(name: name, cell: value.map { RemoteValue($0, expiresAt: expiresAt).cell() }))
        }
        let stored = currentState(of: address)
        for spec in specs where !result.mutations.contains(where: { $0.name == spec.name }) {
            guard case .afterInvoke(let after) = spec.expiration, let cell = stored[spec.name],
                  var value = try? RemoteValue(cell) else { continue }
            if value.isExpired(at: now) {
                writes.append(StateWrite(name: spec.name, cell: nil))
            } else {
                value.expiresAt = now.clamped(plus: after)
                writes.append(StateWrite(name: spec.name, cell: value.cell()))
            }
        }
        return writes
    }

    /// Applies a checkpoint record's changes to the queues (during recovery).
    mutating func restoreRemoteQueues(_ changes: [RemoteQueueChange]) {
        for change in changes {
            var queue = remote.queues[change.address] ?? RemoteQueue()
            change.apply(to: &queue)
            remote.queues[change.address] = queue.invocations.isEmpty ? nil : queue
        }
    }

    /// After recovery: sends each address's queued invocations again.
    public mutating func resumeRemoteCalls(now: Int64) {
        for (address, queue) in remote.queues {
            guard let endpoint = application.binding(for: address.type)?.remote else {
                // The application no longer serves the type remotely.
                remote.removeFirst(of: address)
                abandon(queue.invocations[...], at: address, .unknownFunctionType(address.type), now: now)
                continue
            }
            startBatch(address, endpoint: endpoint, now: now)
            remote.checkBound(address, bound: endpoint.maxBatchSize)
        }
    }
}

extension Int64 {
    /// `self + other`, or the nearest bound past it: remote functions choose delays and lifetimes.
    func clamped(plus other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : sum
    }
}
