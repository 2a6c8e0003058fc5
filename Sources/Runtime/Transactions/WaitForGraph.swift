import StatefulFunctions

/// A transaction as deadlock detection knows it: which attempt, how old, who coordinates it.
public struct WaitingTransaction: Sendable, Hashable {
    public var ref: TransactionRef
    public var priority: TransactionPriority
    public var coordinator: Address
}

/// A transaction waiting at one address for others: the nearest waiting transaction ahead of
/// it in the queue, or else the lock's holders. `since` is when this edge appeared.
public struct WaitForEdge: Sendable, Equatable {
    public var waiter: WaitingTransaction
    public var blockers: [WaitingTransaction]
    public var since: Int64
}

/// What changed in one partition's wait-for edges, sent to the deadlock detector: the edges
/// of transactions that started waiting or now wait for others, and the transactions that no
/// longer wait. A full report has every edge and replaces what the detector knew.
public struct WaitReport: Sendable {
    public var partition: Int32
    public var isFull: Bool
    public var edges: [WaitForEdge]
    public var ended: [TransactionRef]
}

/// A deadlock victim: the youngest member of a cycle, and since when the cycle existed (when
/// its last edge appeared).
struct DeadlockVictim: Equatable {
    var transaction: WaitingTransaction
    var since: Int64
}

/// The wait-for graph of all partitions, put together from their latest reports. Nodes are
/// numbered once, so that the search works on arrays.
struct WaitForGraph {
    private var transactions: [WaitingTransaction] = []
    private var numbers: [TransactionRef: Int] = [:]
    /// Per node, the nodes it waits for and since when.
    private var next: [[(node: Int, since: Int64)]] = []
    /// Per node, the nodes that wait for it.
    private var previous: [[Int]] = []

    init(_ edges: some Sequence<WaitForEdge>) {
        for edge in edges {
            let waiter = number(edge.waiter)
            for blocker in edge.blockers where blocker.ref != edge.waiter.ref {
                let node = number(blocker)
                next[waiter].append((node, edge.since))
                previous[node].append(waiter)
            }
        }
    }

    private mutating func number(_ transaction: WaitingTransaction) -> Int {
        if let existing = numbers[transaction.ref] { return existing }
        numbers[transaction.ref] = transactions.count
        transactions.append(transaction)
        next.append([])
        previous.append([])
        return transactions.count - 1
    }

    /// One victim per cycle: finds a cycle, takes its youngest member out of the graph, and
    /// goes on until no cycle is left. Taking a member out breaks every cycle through it, so
    /// cycles sharing a transaction cost one victim. `excluded` are already being aborted.
    func victims(excluding excluded: Set<TransactionRef> = []) -> [DeadlockVictim] {
        var removed = transactions.map { excluded.contains($0.ref) }
        var found: [DeadlockVictim] = []
        while true {
            removeOffCycle(&removed)
            guard let cycle = findCycle(without: removed) else { return found }
            let victim = cycle.members.max { transactions[$0].priority < transactions[$1].priority }!
            found.append(DeadlockVictim(transaction: transactions[victim], since: cycle.since))
            removed[victim] = true
        }
    }

    /// Takes out every node that waits for nobody or that nobody waits for, repeatedly: such
    /// a node is on no cycle. What is left is usually small, even when many transactions wait.
    private func removeOffCycle(_ removed: inout [Bool]) {
        var outgoing = next.map { $0.count }, incoming = previous.map { $0.count }
        for node in removed.indices where removed[node] {
            for (blocker, _) in next[node] { incoming[blocker] -= 1 }
            for waiter in previous[node] { outgoing[waiter] -= 1 }
        }
        var queue = removed.indices.filter { !removed[$0] && (outgoing[$0] == 0 || incoming[$0] == 0) }
        while let node = queue.popLast() {
            guard !removed[node] else { continue }
            removed[node] = true
            for (blocker, _) in next[node] where !removed[blocker] {
                incoming[blocker] -= 1
                if incoming[blocker] == 0 { queue.append(blocker) }
            }
            for waiter in previous[node] where !removed[waiter] {
                outgoing[waiter] -= 1
                if outgoing[waiter] == 0 { queue.append(waiter) }
            }
        }
    }

    /// A cycle among the nodes not removed, by depth-first search.
    private func findCycle(without removed: [Bool]) -> (members: [Int], since: Int64)? {
        // 0: not seen, 1: on the current path, 2: done.
        var marks = [UInt8](repeating: 0, count: transactions.count)
        for start in transactions.indices where !removed[start] && marks[start] == 0 {
            // The path from `start`, with the index of the next edge to follow at each step.
            var path: [(node: Int, edge: Int, since: Int64)] = [(start, 0, .min)]
            marks[start] = 1
            while let top = path.last {
                let edges = next[top.node]
                guard top.edge < edges.count else {
                    marks[top.node] = 2
                    path.removeLast()
                    continue
                }
                path[path.count - 1].edge += 1
                let (blocker, since) = edges[top.edge]
                guard !removed[blocker] else { continue }
                switch marks[blocker] {
                case 1:
                    let from = path.firstIndex { $0.node == blocker }!
                    // The cycle exists since its youngest edge: those on the path and the closing one.
                    let latest = path[(from + 1)...].map(\.since).reduce(since, max)
                    return (path[from...].map(\.node), latest)
                case 2:
                    continue
                default:
                    marks[blocker] = 1
                    path.append((blocker, 0, since))
                }
            }
        }
        return nil
    }
}
