import StatefulFunctions

/// Binary encodings of the transaction protocols' messages and of lock and coordinator entries.
extension ByteWriter {
    mutating func write(_ payload: Payload) {
        switch payload {
        case .message(let message):
            write(0)
            write(message)
        case .transaction(let message):
            write(1)
            write(message)
        }
    }

    mutating func write(_ ref: TransactionRef) {
        write(ref.id)
        write(ref.attempt)
    }

    mutating func write(_ priority: TransactionPriority) {
        write(priority.startedAt)
        write(priority.id)
    }

    mutating func write(_ transaction: WaitingTransaction) {
        write(transaction.ref)
        write(transaction.priority)
        write(transaction.coordinator)
    }

    mutating func write(_ report: WaitReport) {
        write(report.partition)
        write(report.isFull)
        write(report.edges.count)
        for edge in report.edges {
            write(edge.waiter)
            write(edge.blockers.count)
            for blocker in edge.blockers { write(blocker) }
            write(edge.since)
        }
        write(report.ended.count)
        for ref in report.ended { write(ref) }
    }

    mutating func write(_ failure: TransactionFailure) {
        write(optional: failure.code)
        write(failure.reason)
    }

    mutating func write(optional failure: TransactionFailure?) {
        write(failure != nil)
        if let failure { write(failure) }
    }

    /// A function message: its type name, if any, and its bytes.
    mutating func write(_ message: Message) {
        write(optional: message.typeName)
        write(message.payload)
    }

    mutating func write(optional message: Message?) {
        write(message != nil)
        if let message { write(message) }
    }

    mutating func write(_ request: PrepareRequest) {
        write(request.ref)
        write(request.coordinator)
        write(request.priority)
        write(request.messages.count)
        for message in request.messages { write(message) }
        write(request.readOnly)
    }

    mutating func write(_ message: TransactionMessage) {
        switch message {
        case .prepare(let request):
            write(0); write(request)
        case .commit(let ref):
            write(1); write(ref)
        case .abort(let ref):
            write(2); write(ref)
        case .step(let ref, let coordinator, let index, let message):
            write(3); write(ref); write(coordinator); write(index); write(message)
        case .compensate(let ref, let coordinator, let index, let message):
            write(4); write(ref); write(coordinator); write(index); write(message)
        case .vote(let ref, let participant, let vote):
            write(5); write(ref); write(participant)
            switch vote {
            case .yes(let results):
                write(true)
                write(results.count)
                for result in results { write(optional: result) }
            case .no(let failure):
                write(false)
                write(failure)
            }
        case .stepDone(let ref, let index, let result, let failure):
            write(6); write(ref); write(index); write(optional: result); write(optional: failure)
        case .compensated(let ref, let index, let failure):
            write(7); write(ref); write(index); write(optional: failure)
        case .waitReport(let report):
            write(8); write(report)
        case .victim(let ref, let since):
            write(10); write(ref); write(since)
        case .timeout(let ref):
            write(11); write(ref)
        case .retryCompensation(let ref, let index):
            write(12); write(ref); write(index)
        }
    }

    mutating func write(_ effect: Effect) {
        switch effect {
        case .send(let to, let message):
            write(0); write(to); write(message)
        case .sendDelayed(let to, let message, let delay, let token):
            write(1); write(to); write(message); write(delay); write(optional: token)
        case .cancelDelayed(let token):
            write(2); write(token)
        case .egress(let record):
            write(3); write(record)
        }
    }

    mutating func write(_ origin: InvocationOrigin) {
        switch origin {
        case .record(let topic, let offset): write(0); write(topic); write(offset)
        case .function(let sender): write(1); write(optional: sender)
        case .timer(let sender): write(2); write(sender)
        }
    }
}

extension ByteReader {
    mutating func readPayload() throws(Malformed) -> Payload {
        switch try readInt() {
        case 0: return .message(try readMessage())
        case 1: return .transaction(try readTransactionMessage())
        case let tag: throw Malformed(description: "unknown payload \(tag)")
        }
    }

    mutating func readTransactionRef() throws(Malformed) -> TransactionRef {
        TransactionRef(id: try readMessageID(), attempt: try readInt32())
    }

    mutating func readPriority() throws(Malformed) -> TransactionPriority {
        TransactionPriority(startedAt: try readInt64(), id: try readMessageID())
    }

    mutating func readWaitingTransaction() throws(Malformed) -> WaitingTransaction {
        WaitingTransaction(ref: try readTransactionRef(), priority: try readPriority(), coordinator: try readAddress())
    }

    mutating func readWaitReport() throws(Malformed) -> WaitReport {
        let partition = try readInt32()
        let isFull = try readBool()
        var edges: [WaitForEdge] = []
        for _ in 0..<(try readCount()) {
            let waiter = try readWaitingTransaction()
            var blockers: [WaitingTransaction] = []
            for _ in 0..<(try readCount()) { blockers.append(try readWaitingTransaction()) }
            edges.append(WaitForEdge(waiter: waiter, blockers: blockers, since: try readInt64()))
        }
        var ended: [TransactionRef] = []
        for _ in 0..<(try readCount()) { ended.append(try readTransactionRef()) }
        return WaitReport(partition: partition, isFull: isFull, edges: edges, ended: ended)
    }

    mutating func readMessage() throws(Malformed) -> Message {
        let typeName = try readOptionalString()
        return Message(bytes: try readBytes(), typeName: typeName)
    }

    mutating func readOptionalMessage() throws(Malformed) -> Message? { try readBool() ? try readMessage() : nil }

    mutating func readTransactionFailure() throws(Malformed) -> TransactionFailure {
        TransactionFailure(code: try readOptionalString(), reason: try readString())
    }

    mutating func readOptionalTransactionFailure() throws(Malformed) -> TransactionFailure? {
        try readBool() ? try readTransactionFailure() : nil
    }

    mutating func readPrepareRequest() throws(Malformed) -> PrepareRequest {
        let ref = try readTransactionRef()
        let coordinator = try readAddress()
        let priority = try readPriority()
        var messages: [Message] = []
        for _ in 0..<(try readCount()) { messages.append(try readMessage()) }
        return PrepareRequest(ref: ref, coordinator: coordinator, priority: priority, messages: messages, readOnly: try readBool())
    }

    mutating func readTransactionMessage() throws(Malformed) -> TransactionMessage {
        switch try readInt() {
        case 0: return .prepare(try readPrepareRequest())
        case 1: return .commit(try readTransactionRef())
        case 2: return .abort(try readTransactionRef())
        case 3:
            return .step(try readTransactionRef(), coordinator: try readAddress(), index: try readInt32(),
                         message: try readMessage())
        case 4:
            return .compensate(try readTransactionRef(), coordinator: try readAddress(), index: try readInt32(),
                               message: try readMessage())
        case 5:
            let ref = try readTransactionRef()
            let participant = try readAddress()
            if try readBool() {
                var results: [Message?] = []
                for _ in 0..<(try readCount()) { results.append(try readOptionalMessage()) }
                return .vote(ref, participant: participant, vote: .yes(results))
            }
            return .vote(ref, participant: participant, vote: .no(try readTransactionFailure()))
        case 6:
            return .stepDone(try readTransactionRef(), index: try readInt32(), result: try readOptionalMessage(),
                             failure: try readOptionalTransactionFailure())
        case 7: return .compensated(try readTransactionRef(), index: try readInt32(), failure: try readOptionalTransactionFailure())
        case 8: return .waitReport(try readWaitReport())
        case 10: return .victim(try readTransactionRef(), since: try readInt64())
        case 11: return .timeout(try readTransactionRef())
        case 12: return .retryCompensation(try readTransactionRef(), index: try readInt32())
        case let tag: throw Malformed(description: "unknown transaction message \(tag)")
        }
    }

    mutating func readEffect() throws(Malformed) -> Effect {
        switch try readInt() {
        case 0: return .send(to: try readAddress(), message: try readMessage())
        case 1:
            return .sendDelayed(to: try readAddress(), message: try readMessage(), delayMilliseconds: try readInt64(),
                                cancellationToken: try readOptionalString())
        case 2: return .cancelDelayed(cancellationToken: try readString())
        case 3: return .egress(try readEgressRecord())
        case let tag: throw Malformed(description: "unknown effect \(tag)")
        }
    }

    mutating func readOrigin() throws(Malformed) -> InvocationOrigin {
        switch try readInt() {
        case 0: return .record(topic: try readString(), offset: try readInt64())
        case 1: return .function(try readOptionalAddress())
        case 2: return .timer(try readAddress())
        case let tag: throw Malformed(description: "unknown origin \(tag)")
        }
    }
}

extension ByteWriter {
    mutating func write(_ holder: LockHolder) throws(StatefulFunctionError) {
        write(holder.request)
        write(holder.writes.count)
        for write in holder.writes {
            self.write(write.name)
            self.write(optional: try write.cell?.bytes())
        }
        write(holder.effects.count)
        for effect in holder.effects { write(effect) }
    }

    mutating func write(_ waiter: LockWaiter) {
        switch waiter {
        case .prepare(let request):
            write(0)
            write(request)
        case .message(let caller, let payload, let origin):
            write(1)
            write(optional: caller)
            write(payload)
            write(origin)
        }
    }
}

extension ByteReader {
    mutating func readLockHolder() throws -> LockHolder {
        let request = try readPrepareRequest()
        var writes: [StateWrite] = []
        for _ in 0..<(try readCount()) {
            writes.append(StateWrite(name: try readString(), cell: try readOptionalBytes().map(StateCell.encoded)))
        }
        var effects: [Effect] = []
        for _ in 0..<(try readCount()) { effects.append(try readEffect()) }
        return LockHolder(request: request, writes: writes, effects: effects)
    }

    mutating func readLockWaiter() throws -> LockWaiter {
        switch try readInt() {
        case 0: return .prepare(try readPrepareRequest())
        case 1: return .message(caller: try readOptionalAddress(), payload: try readPayload(), origin: try readOrigin())
        case let tag: throw Malformed(description: "unknown lock waiter \(tag)")
        }
    }
}

extension LockEntry {
    func encoded() throws(StatefulFunctionError) -> [UInt8] {
        var writer = ByteWriter(capacity: 256)
        writer.write(holders.count)
        for holder in holders { try writer.write(holder) }
        writer.write(waiters.count)
        for waiter in waiters { writer.write(waiter) }
        return writer.bytes
    }

    init(decoding bytes: [UInt8]) throws {
        var reader = ByteReader(bytes)
        for _ in 0..<(try reader.readCount()) { holders.append(try reader.readLockHolder()) }
        for _ in 0..<(try reader.readCount()) { waiters.append(try reader.readLockWaiter()) }
    }
}

extension LockChange {
    static func encoded(_ changes: [LockChange]) throws(StatefulFunctionError) -> [UInt8] {
        var writer = ByteWriter(capacity: 128)
        writer.write(changes.count)
        for change in changes {
            switch change {
            case .appendWaiter(let waiter):
                writer.write(0)
                writer.write(waiter)
            case .removeWaiter(let index):
                writer.write(1)
                writer.write(index)
            case .appendHolder(let holder):
                writer.write(2)
                try writer.write(holder)
            case .removeHolder(let index):
                writer.write(3)
                writer.write(index)
            }
        }
        return writer.bytes
    }

    static func decoding(_ bytes: [UInt8]) throws -> [LockChange] {
        var reader = ByteReader(bytes)
        var changes: [LockChange] = []
        for _ in 0..<(try reader.readCount()) {
            switch try reader.readInt() {
            case 0: changes.append(.appendWaiter(try reader.readLockWaiter()))
            case 1: changes.append(.removeWaiter(try reader.readInt()))
            case 2: changes.append(.appendHolder(try reader.readLockHolder()))
            case 3: changes.append(.removeHolder(try reader.readInt()))
            case let tag: throw ByteReader.Malformed(description: "unknown lock change \(tag)")
            }
        }
        return changes
    }
}

extension CoordinatorEntry {
    func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: 256)
        writer.write(queue.count)
        for queued in queue {
            writer.write(optional: queued.caller)
            writer.write(queued.request)
        }
        writer.write(active != nil)
        guard let active else { return writer.bytes }
        writer.write(active.ref)
        writer.write(active.coordinator)
        writer.write(active.priority)
        writer.write(active.transactionProtocol == .twoPhaseCommit)
        writer.write(optional: active.caller)
        writer.write(active.request)
        writer.write(active.invocations.count)
        for invocation in active.invocations {
            writer.write(invocation.address)
            writer.write(invocation.message)
            writer.write(invocation.readOnly)
            writer.write(optional: invocation.compensation)
        }
        writer.write(active.votes.participants.count)
        for participant in active.votes.participants {
            writer.write(participant.address)
            writer.write(participant.invocations.count)
            for index in participant.invocations { writer.write(index) }
            writer.write(participant.readOnly)
            writer.write(participant.votedYes == nil ? 0 : participant.votedYes == true ? 1 : 2)
        }
        writer.write(active.saga.statuses.count)
        for status in active.saga.statuses { writer.write(status.rawValue) }
        writer.write(active.saga.stageStarts.count)
        for start in active.saga.stageStarts { writer.write(start) }
        writer.write(active.results.count)
        for result in active.results { writer.write(optional: result) }
        writer.write(optional: active.failure)
        return writer.bytes
    }

    init(decoding bytes: [UInt8]) throws {
        var reader = ByteReader(bytes)
        for _ in 0..<(try reader.readCount()) {
            queue.append(QueuedRequest(caller: try reader.readOptionalAddress(), request: try reader.readMessage()))
        }
        guard try reader.readBool() else { return }
        let ref = try reader.readTransactionRef()
        let coordinator = try reader.readAddress()
        let priority = try reader.readPriority()
        let transactionProtocol: TransactionProtocol = try reader.readBool() ? .twoPhaseCommit : .saga
        let caller = try reader.readOptionalAddress()
        let request = try reader.readMessage()
        var invocations: [TransactionInvocation] = []
        for _ in 0..<(try reader.readCount()) {
            var invocation = TransactionInvocation(try reader.readAddress(), try reader.readMessage(),
                                                   readOnly: try reader.readBool())
            invocation.compensation = try reader.readOptionalMessage()
            invocations.append(invocation)
        }
        var transaction = ActiveTransaction(ref: ref, coordinator: coordinator, priority: priority,
                                            transactionProtocol: transactionProtocol, caller: caller, request: request,
                                            invocations: invocations, results: [])
        var participants: [TwoPhaseVotes.Participant] = []
        for _ in 0..<(try reader.readCount()) {
            let address = try reader.readAddress()
            var indices: [Int32] = []
            for _ in 0..<(try reader.readCount()) { indices.append(try reader.readInt32()) }
            let readOnly = try reader.readBool()
            let vote = try reader.readInt()
            participants.append(.init(address: address, invocations: indices, readOnly: readOnly, votedYes: vote == 0 ? nil : vote == 1))
        }
        transaction.votes = TwoPhaseVotes(participants: participants)
        var statuses: [SagaSteps.Status] = []
        for _ in 0..<(try reader.readCount()) {
            let raw = try reader.readInt()
            guard let status = SagaSteps.Status(rawValue: raw) else {
                throw ByteReader.Malformed(description: "unknown step status \(raw)")
            }
            statuses.append(status)
        }
        var stageStarts: [Int] = []
        for _ in 0..<(try reader.readCount()) { stageStarts.append(try reader.readInt()) }
        transaction.saga = SagaSteps(statuses: statuses, stageStarts: stageStarts, compensable: transaction.compensable)
        for _ in 0..<(try reader.readCount()) { transaction.results.append(try reader.readOptionalMessage()) }
        transaction.failure = try reader.readOptionalTransactionFailure()
        active = transaction
    }
}
