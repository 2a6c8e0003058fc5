@testable import Runtime
import StatefulFunctions
import Testing

/// The partition's side of remote functions, with the endpoint played by the test: batching,
/// the missing-state negotiation, expiration, failures and recovery.
private let remoteType: TypeName = "py/counter"
private let endpoint = RemoteEndpoint(functions: .namespace("py"), urlTemplate: "http://functions/{function.name}", maxBatchSize: 2)
private let countSpec = RemoteStateSpec(name: "count", typeName: "io.statefun.types/int", expiration: .afterWrite(1_000))

private func application() -> Application {
    var app = Application(name: "remote-test")
    app.bindRemote(endpoint)
    var binding = IngressBinding(topic: "in", type: remoteType, codec: .raw)
    binding.valueTypeName = "io.statefun.types/string"
    app.ingress(binding)
    return app
}

private func core() -> PartitionCore {
    PartitionCore(partition: 0, application: application(), partitionOf: { _ in 0 })
}

private func ingress(_ key: String, _ value: String, offset: Int64) -> PartitionInput {
    .ingress(IngressRecord(topic: "in", key: Array(key.utf8), value: Array(value.utf8)), position: InputPosition(topic: "in", offset: offset))
}

/// A result that sets `count` to `value` and writes one Kafka egress record saying so.
private func counted(_ value: Int) -> RemoteOutcome {
    var result = RemoteResult()
    result.mutations = [("count", TypedValue(typeName: "io.statefun.types/int", value: [UInt8(value)]))]
    var record = ProtoWriter()
    record.string(1, "k")
    record.bytes(2, Array("count=\(value)".utf8))
    record.string(3, "out")
    result.egress = [.init(egress: "py/out", argument: TypedValue(typeName: KafkaEgressRecord.typeName, value: record.bytes))]
    return .reply(.result(result))
}

private func outputs(_ core: inout PartitionCore) throws -> [String] {
    try #require(try core.closeEpoch()).record.ownOutbox.map { item in
        switch item {
        case .egress(let record, _): record.valueText ?? ""
        case .deadLetter(let letter, _): "dead letter: \(letter.reason.code)"
        case .envelope: "envelope"
        }
    }
}

private struct Refused: CodedError {
    var code: String { "refused" }
}

@Suite struct RemoteCallsTests {
    @Test func oneBatchPerAddressIsInFlightAndTheRestWaitsBoundedBehindIt() throws {
        var core = core()
        for offset in 0..<5 { core.process(ingress("a", "m\(offset)", offset: Int64(offset)), now: 0) }
        var calls = core.takeRemoteCalls()
        #expect(calls.map { $0.request.invocations.map(\.message.text) } == [["m0"]], "the first goes alone, at once")
        #expect(calls[0].url == "http://functions/counter")
        #expect(calls[0].request.invocations[0].message.typeName == "io.statefun.types/string")
        #expect(core.remoteBacklogFull, "four wait behind it, more than a batch")
        core.complete(calls[0], with: .reply(.result(RemoteResult())), now: 0)
        calls = core.takeRemoteCalls()
        #expect(calls.map { $0.request.invocations.map(\.message.text) } == [["m1", "m2"]], "then batches of at most two")
        #expect(core.remoteBacklogFull)
        core.complete(calls[0], with: .reply(.result(RemoteResult())), now: 0)
        #expect(!core.remoteBacklogFull)
        #expect(core.takeRemoteCalls().map { $0.request.invocations.map(\.message.text) } == [["m3", "m4"]])
    }

    @Test func missingStateIsDeclaredAndTheSameBatchSentAgainWithIt() throws {
        var core = core()
        core.process(ingress("a", "x", offset: 0), now: 0)
        let first = try #require(core.takeRemoteCalls().first)
        #expect(first.request.states.isEmpty)
        core.complete(first, with: .reply(.incomplete(missing: [countSpec])), now: 0)
        let second = try #require(core.takeRemoteCalls().first)
        #expect(second.request.states.map(\.name) == ["count"])
        #expect(second.request.states[0].value == TypedValue(typeName: "io.statefun.types/int", value: nil), "declared, no value yet")
        #expect(second.request.invocations.map(\.message.text) == ["x"])
        core.complete(second, with: .reply(.incomplete(missing: [countSpec])), now: 0)
        #expect(try outputs(&core) == ["dead letter: remote-call-failed"], "asking again for what it was sent is a failure")
    }

    @Test func answersApplyStateAndEgressAndStateExpires() throws {
        var core = core()
        core.process(ingress("a", "x", offset: 0), now: 0)
        core.complete(try #require(core.takeRemoteCalls().first), with: .reply(.incomplete(missing: [countSpec])), now: 0)
        core.complete(try #require(core.takeRemoteCalls().first), with: counted(1), now: 0)
        #expect(try outputs(&core) == ["count=1"])
        core.process(ingress("a", "y", offset: 1), now: 999)
        let live = try #require(core.takeRemoteCalls().first)
        #expect(live.request.states[0].value.value == [1], "written at 0, alive until 1,000")
        core.complete(live, with: counted(2), now: 999)
        core.process(ingress("a", "z", offset: 2), now: 2_000)
        let expired = try #require(core.takeRemoteCalls().first)
        #expect(expired.request.states[0].value.value == nil, "written at 999, gone at 1,999")
    }

    @Test func aBatchWithoutAnswerGoesToTheDeadLetterTopicAndTheNextOneGoes() throws {
        var core = core()
        core.process(ingress("a", "x", offset: 0), now: 0)
        core.process(ingress("a", "y", offset: 1), now: 0)
        core.complete(try #require(core.takeRemoteCalls().first), with: .failed("HTTP status 500"), now: 0)
        #expect(core.takeRemoteCalls().map { $0.request.invocations.map(\.message.text) } == [["y"]])
        #expect(try outputs(&core) == ["dead letter: remote-call-failed"])
    }

    @Test func aBatchInFlightAtACheckpointIsSentAgainAfterRecoveryAndItsOldAnswerIgnored() throws {
        var core = core()
        core.process(ingress("a", "x", offset: 0), now: 0)
        core.process(ingress("a", "y", offset: 1), now: 0)
        let inFlight = try #require(core.takeRemoteCalls().first)
        let (record, _) = try #require(try core.closeEpoch())

        var recovered = PartitionCore(partition: 0, application: application(), partitionOf: { _ in 0 })
        try recovered.restore(try EpochRecord(decoding: record.encoded()))
        recovered.resumeRemoteCalls(now: 0)
        let again = try #require(recovered.takeRemoteCalls().first)
        #expect(again.request.invocations.map(\.message.text) == ["x", "y"], "everything queued, in one batch")
        recovered.complete(inFlight, with: counted(7), now: 0)
        #expect(!recovered.hasChanges, "an answer to a call made before the recovery is ignored")
        recovered.complete(again, with: counted(2), now: 0)
        #expect(try outputs(&recovered) == ["count=2"])
        #expect(recovered.takeRemoteCalls().isEmpty)
        recovered.process(ingress("a", "x", offset: 0), now: 0)
        #expect(recovered.takeRemoteCalls().isEmpty, "inputs already applied are not queued again")
    }

    /// Each record carries only its epoch's queue changes; replaying them (or a snapshot) gives
    /// the queue back, also when an epoch removes more than it started with.
    @Test func queueChangesReplayOverSeveralEpochsAndFromASnapshot() throws {
        var core = core()
        core.process(ingress("a", "x", offset: 0), now: 0)
        core.process(ingress("a", "y", offset: 1), now: 0)
        var calls = core.takeRemoteCalls()  // x in flight, y waits
        let first = try #require(try core.closeEpoch()).record
        core.complete(calls[0], with: .reply(.result(RemoteResult())), now: 0)  // x leaves, y goes
        core.process(ingress("a", "z", offset: 2), now: 0)
        calls = core.takeRemoteCalls()
        core.complete(calls[0], with: .reply(.result(RemoteResult())), now: 0)  // y leaves, z goes
        core.process(ingress("a", "w", offset: 3), now: 0)
        let second = try #require(try core.closeEpoch()).record
        let snapshot = try core.image().record()
        func queued(after records: [EpochRecord]) throws -> [[String]] {
            var recovered = PartitionCore(partition: 0, application: application(), partitionOf: { _ in 0 })
            for record in records { try recovered.restore(try EpochRecord(decoding: record.encoded())) }
            recovered.resumeRemoteCalls(now: 0)
            return recovered.takeRemoteCalls().map { $0.request.invocations.map(\.message.text) }
        }
        #expect(try queued(after: [first]) == [["x", "y"]])
        #expect(try queued(after: [first, second]) == [["z", "w"]], "x and y answered; the epoch removed more than it started with")
        #expect(try queued(after: [snapshot]) == [["z", "w"]])
    }

    @Test func delaysAndLifetimesPastTheClockSaturateInsteadOfTrapping() throws {
        var core = core()
        core.process(ingress("a", "x", offset: 0), now: 1_000)
        let forever = RemoteStateSpec(name: "count", typeName: "io.statefun.types/int", expiration: .afterWrite(.max))
        core.complete(try #require(core.takeRemoteCalls().first), with: .reply(.incomplete(missing: [forever])), now: 1_000)
        var result = RemoteResult()
        result.mutations = [("count", TypedValue(typeName: "io.statefun.types/int", value: [1]))]
        result.delayed = [.send(to: Address(remoteType, "a"), message: Message(text: "late"), delayMilliseconds: .max, cancellationToken: nil)]
        core.complete(try #require(core.takeRemoteCalls().first), with: .reply(.result(result)), now: 1_000)
        #expect(core.pendingTimerCount == 1)
        core.fireTimers(now: .max - 1)
        #expect(core.takeRemoteCalls().isEmpty, "due at the end of time")
    }

    /// A saga whose second stage is a remote function: its step goes in a batch of its own, is
    /// done when the endpoint answers, and fails (compensating the first stage) when it never
    /// does. Across a recovery the step is asked for again.
    @Test func aRemoteFunctionRunsASagaStepAndItsFailureCompensates() throws {
        let ledger = ValueSpec<Int>("count")
        var app = application()
        app.bind("test/ledger", states: [ledger]) { context, message in
            try context.set(ledger, (try context.get(ledger) ?? 0) + (message.text == "undo" ? -1 : 1))
        }
        app.bindCoordinator("test/saga", protocol: .saga) { _, message in
            TransactionPlan(stages: [
                [TransactionInvocation(Address("test/ledger", "l"), Message(text: "do"), compensation: Message(text: "undo"))],
                [TransactionInvocation(Address(remoteType, "r"), Message(text: message.text), compensation: Message(text: "undo"))],
            ])
        } outcome: { context, outcome in
            context.egress(EgressRecord(topic: "out", key: "o", value: outcome.status == .committed ? "committed" : "failed"))
        }
        var core = PartitionCore(partition: 0, application: app, partitionOf: { _ in 0 })
        core.process(.envelope(Envelope(id: MessageID(partition: 9, epoch: 1, index: 0), sequence: 1, target: Address("test/saga", "s1"),
                                        source: nil, message: Message(text: "plain")), position: nil), now: 0)
        core.process(ingress("r", "queued behind the step", offset: 0), now: 0)
        let step = core.takeRemoteCalls()
        #expect(step.map { $0.request.invocations.map(\.message.text) } == [["plain"]], "the step alone")
        #expect(step.first?.request.invocations.first?.caller == Address("test/saga", "s1"))
        let (record, _) = try #require(try core.closeEpoch())

        var recovered = PartitionCore(partition: 0, application: app, partitionOf: { _ in 0 })
        try recovered.restore(try EpochRecord(decoding: record.encoded()))
        recovered.resumeRemoteCalls(now: 0)
        let again = recovered.takeRemoteCalls()
        #expect(again.map { $0.request.invocations.map(\.message.text) } == [["plain"]], "asked for again after a recovery")
        recovered.complete(try #require(again.first), with: .reply(.result(RemoteResult())), now: 0)
        #expect(try outputs(&recovered) == ["committed"])
        #expect(try recovered.state(ledger, of: Address("test/ledger", "l")) == 1)
        #expect(recovered.takeRemoteCalls().map { $0.request.invocations.map(\.message.text) } == [["queued behind the step"]])

        // Without the recovery, the endpoint never answers: the step fails, the ledger is compensated.
        core.complete(try #require(step.first), with: .failed("HTTP status 500"), now: 0)
        #expect(try outputs(&core) == ["failed"])
        #expect(try core.state(ledger, of: Address("test/ledger", "l")) == 0)
    }

    /// 2PC over a Swift ledger and a remote function. The remote prepare holds the lock while
    /// its call is in flight (a plain message waits for it), its answer becomes the prepared
    /// changes and a yes vote, and the commit applies them; across a recovery the prepare is
    /// asked for again. A prepare whose call fails votes no. An answer arriving after the
    /// transaction aborted is dropped.
    @Test func aRemoteFunctionTakesPartInTwoPhaseCommit() throws {
        let ledger = ValueSpec<Int>("count")
        var app = application()
        app.bind("test/ledger", states: [ledger]) { context, message in
            guard message.text != "refuse" else { throw Refused() }
            try context.set(ledger, (try context.get(ledger) ?? 0) + 1)
        }
        app.bindCoordinator("test/tx", protocol: .twoPhaseCommit) { _, message in
            TransactionPlan([TransactionInvocation(Address("test/ledger", "l"), message),
                             TransactionInvocation(Address(remoteType, "r"), message)])
        } outcome: { context, outcome in
            let text = switch outcome.status {
            case .committed: "committed"
            case .failed(let failure): "failed: \(failure.code ?? "")"
            case .retryableAbort(let reason): "retry: \(reason)"
            }
            context.egress(EgressRecord(topic: "out", key: "o", value: text))
        }
        func begin(_ core: inout PartitionCore, _ text: String, sequence: Int64) {
            core.process(.envelope(Envelope(id: MessageID(partition: 9, epoch: 1, index: Int32(sequence)), sequence: sequence,
                                            target: Address("test/tx", "t\(sequence)"), source: nil, message: Message(text: text)),
                                   position: nil), now: 0)
        }
        let texts = { (calls: [RemoteCall]) in calls.map { $0.request.invocations.map(\.message.text) } }
        var core = PartitionCore(partition: 0, application: app, partitionOf: { _ in 0 })
        begin(&core, "add", sequence: 1)
        core.process(ingress("r", "plain", offset: 0), now: 0)
        let prepare = try #require(core.takeRemoteCalls().first)
        #expect(prepare.request.invocations.map(\.message.text) == ["add"], "the prepare alone; the plain message waits for the lock")
        #expect(prepare.request.invocations.first?.caller == Address("test/tx", "t1"))
        let (record, _) = try #require(try core.closeEpoch())

        var recovered = PartitionCore(partition: 0, application: app, partitionOf: { _ in 0 })
        try recovered.restore(try EpochRecord(decoding: record.encoded()))
        recovered.resumeRemoteCalls(now: 0)
        var again = try #require(recovered.takeRemoteCalls().first)
        #expect(again.request.invocations.map(\.message.text) == ["add"], "asked for again after a recovery")
        recovered.complete(again, with: .reply(.incomplete(missing: [countSpec])), now: 0)
        again = try #require(recovered.takeRemoteCalls().first)
        recovered.complete(again, with: counted(5), now: 0)
        #expect(Set(try outputs(&recovered)) == ["committed", "count=5"], "the remote egress goes out with the commit")
        #expect(try recovered.state(ledger, of: Address("test/ledger", "l")) == 1)
        let plain = try #require(recovered.takeRemoteCalls().first)
        #expect(plain.request.invocations.map(\.message.text) == ["plain"], "admitted once the lock is free")
        #expect(plain.request.states.first?.value.value == [5], "and it sees the committed state")

        // Without the recovery, the endpoint never answers: the remote participant votes no.
        core.complete(prepare, with: .failed("HTTP status 500"), now: 0)
        #expect(try outputs(&core) == ["failed: remote-call-failed"])
        #expect(try core.state(ledger, of: Address("test/ledger", "l")) == nil, "the ledger's prepared change is dropped")
        let admitted = core.takeRemoteCalls()
        #expect(texts(admitted) == [["plain"]])
        core.complete(try #require(admitted.first), with: .reply(.result(RemoteResult())), now: 0)

        // The ledger refuses while the remote call is in flight: the late answer changes nothing.
        begin(&core, "refuse", sequence: 2)
        let late = try #require(core.takeRemoteCalls().first)
        #expect(try outputs(&core) == ["failed: refused"])
        core.complete(late, with: counted(9), now: 0)
        #expect(try outputs(&core) == [], "an answer for an aborted transaction is dropped")
        begin(&core, "add", sequence: 3)
        #expect(texts(core.takeRemoteCalls()) == [["add"]], "the lock is free")
    }

    @Test func messagesKeepTheirTypeNameThroughEveryEncoding() throws {
        let typed = Message(statefunString: "hi")
        let ref = TransactionRef(id: MessageID(partition: 0, epoch: 1, index: 0), attempt: 0)
        for payload in [Payload.message(typed), .transaction(.step(ref, coordinator: Address("test/saga", "s"), index: 1, message: typed))] {
            let envelope = Envelope(id: MessageID(partition: 0, epoch: 1, index: 1), sequence: 1, target: Address(remoteType, "a"),
                                    source: nil, payload: payload)
            let decoded = try Envelope(decoding: envelope.encoded()).payload
            switch decoded {
            case .message(let message), .transaction(.step(_, _, _, let message)): #expect(message == typed)
            default: Issue.record("decoded as \(decoded)")
            }
        }
    }

    @Test func malformedAnswersThrowInsteadOfTrapping() {
        #expect(throws: (any Error).self) { try RemoteReply(decoding: [0xA2, 0x06, 0x05, 0x0A]) }  // truncated field 100
        #expect(throws: (any Error).self) { try RemoteReply(decoding: [0x83]) }  // unsupported wire type
        #expect(throws: (any Error).self) { try KafkaEgressRecord.decode([0x12, 0x01, 0x41]) }  // no topic
    }
}
