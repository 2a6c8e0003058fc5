@testable import Runtime
import StatefulFunctions
import Testing

/// The deadlock detector's cycle search over the partitions' reported wait-for edges.
@Suite struct WaitForGraphTests {
    /// Transaction `n` started at time `n`: a larger number is younger.
    func transaction(_ n: Int64) -> WaitingTransaction {
        let id = MessageID(partition: 0, epoch: n, index: 0)
        return WaitingTransaction(ref: TransactionRef(id: id, attempt: 1), priority: TransactionPriority(startedAt: n, id: id),
                                  coordinator: Address("test/coordinator", "t\(n)"))
    }

    func edge(_ waiter: Int64, waitsFor blockers: Int64..., since: Int64 = 0) -> WaitForEdge {
        WaitForEdge(waiter: transaction(waiter), blockers: blockers.map(transaction), since: since)
    }

    @Test func chainsAndSharedLocksAreNoDeadlock() {
        let graph = WaitForGraph([edge(3, waitsFor: 2), edge(2, waitsFor: 1), edge(4, waitsFor: 1, 2)])
        #expect(graph.victims().isEmpty)
    }

    @Test func aCycleLosesItsYoungestMemberAndDatesFromItsLastEdge() {
        let graph = WaitForGraph([edge(1, waitsFor: 2, since: 100), edge(2, waitsFor: 3, since: 250), edge(3, waitsFor: 1, since: 180),
                                  edge(4, waitsFor: 3, since: 50)])
        #expect(graph.victims() == [DeadlockVictim(transaction: transaction(3), since: 250)])
    }

    @Test func separateCyclesHaveOneVictimEach() {
        let graph = WaitForGraph([edge(1, waitsFor: 2), edge(2, waitsFor: 1), edge(5, waitsFor: 6), edge(6, waitsFor: 7), edge(7, waitsFor: 5)])
        #expect(Set(graph.victims().map(\.transaction.ref)) == [transaction(2).ref, transaction(7).ref])
    }

    @Test func cyclesThroughTheSameYoungestTransactionCostOneVictim() {
        // 1 -> 9 -> 1 and 2 -> 9 -> 2: aborting 9 breaks both.
        let graph = WaitForGraph([edge(1, waitsFor: 9), edge(9, waitsFor: 1, 2), edge(2, waitsFor: 9)])
        #expect(graph.victims().map(\.transaction.ref) == [transaction(9).ref])
    }

    @Test func cyclesSharingAnOlderMemberLoseTheirOwnYoungest() {
        // 1 -> 2 -> 1 and 1 -> 3 -> 1: aborting 2 leaves the second cycle, so 3 goes too.
        let graph = WaitForGraph([edge(1, waitsFor: 2, 3), edge(2, waitsFor: 1), edge(3, waitsFor: 1)])
        #expect(Set(graph.victims().map(\.transaction.ref)) == [transaction(2).ref, transaction(3).ref])
    }

    @Test func transactionsAlreadyBeingAbortedAreLeftOut() {
        let graph = WaitForGraph([edge(1, waitsFor: 2), edge(2, waitsFor: 1)])
        #expect(graph.victims(excluding: [transaction(2).ref]).isEmpty)
    }
}
