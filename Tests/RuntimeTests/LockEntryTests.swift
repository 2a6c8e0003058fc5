@testable import Runtime
import StatefulFunctions
import Testing

/// The queue rules of strict 2PL at one address, decision by decision.
struct LockEntryTests {
    static let coordinator = Address("test/transfer", "c")

    static func prepare(_ index: Int32, readOnly: Bool = false) -> PrepareRequest {
        let id = MessageID(partition: 0, epoch: 1, index: index)
        return PrepareRequest(ref: TransactionRef(id: id, attempt: 1), coordinator: coordinator,
                              priority: TransactionPriority(startedAt: 0, id: id), messages: [], readOnly: readOnly)
    }

    static func holding(_ requests: PrepareRequest...) -> LockEntry {
        var entry = LockEntry()
        for request in requests { entry.apply(.appendHolder(LockHolder(request: request, writes: [], effects: []))) }
        return entry
    }

    @Test func readersShareTheLockAndAWriterWaits() {
        let entry = Self.holding(Self.prepare(1, readOnly: true))
        #expect(entry.admission(of: Self.prepare(2, readOnly: true)) == .grant)
        #expect(entry.admission(of: Self.prepare(3)) == .wait)
        #expect(Self.holding(Self.prepare(1)).admission(of: Self.prepare(2, readOnly: true)) == .wait, "a writer excludes readers")
    }

    @Test func aReaderQueuesBehindAWaitingWriter() {
        var entry = Self.holding(Self.prepare(1, readOnly: true))
        entry.apply(.appendWaiter(.prepare(Self.prepare(2))))
        #expect(entry.admission(of: Self.prepare(3, readOnly: true)) == .wait, "first come, first served: no overtaking")
    }

    @Test func aRepeatedPrepareIsIgnored() {
        var entry = Self.holding(Self.prepare(1))
        entry.apply(.appendWaiter(.prepare(Self.prepare(2))))
        #expect(entry.admission(of: Self.prepare(1)) == .ignore)
        #expect(entry.admission(of: Self.prepare(2)) == .ignore)
    }

    @Test func theHeadRunsOnlyWhenItMay() {
        var entry = Self.holding(Self.prepare(1, readOnly: true))
        entry.apply(.appendWaiter(.message(caller: nil, payload: .message(Message(text: "read")), origin: .function(nil))))
        #expect(entry.admissibleHead == nil, "a message waits until no transaction holds the lock")
        entry.apply(.removeHolder(0))
        guard case .message = entry.admissibleHead else { Issue.record("the message runs once the lock is free"); return }

        var prepares = Self.holding(Self.prepare(1, readOnly: true))
        prepares.apply(.appendWaiter(.prepare(Self.prepare(2, readOnly: true))))
        prepares.apply(.appendWaiter(.prepare(Self.prepare(3))))
        guard case .prepare(let head) = prepares.admissibleHead else { Issue.record("a waiting reader joins readers"); return }
        #expect(head.ref == Self.prepare(2).ref)
        prepares.apply(.removeWaiter(0))
        #expect(prepares.admissibleHead == nil, "the writer waits for the reader holding the lock")
    }

    @Test func aCommitReleasesAHolderAndAnAbortAlsoAWaiter() {
        var entry = Self.holding(Self.prepare(1))
        entry.apply(.appendWaiter(.prepare(Self.prepare(2))))
        #expect(entry.release(Self.prepare(1).ref, commit: true) == .holder(0))
        #expect(entry.release(Self.prepare(1).ref, commit: false) == .holder(0))
        #expect(entry.release(Self.prepare(2).ref, commit: false) == .waiter(0))
        #expect(entry.release(Self.prepare(2).ref, commit: true) == .none, "a waiter never commits")
        #expect(entry.release(Self.prepare(9).ref, commit: false) == .none)
    }
}
