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

/// The wait-for graph of all partitions, put together from their latest reports.
struct WaitForGraph {
    private var next: [TransactionRef: [(blocker: TransactionRef, since: Int64)]] = [:]
    private var transactions: [TransactionRef: WaitingTransaction] = [:]

    init(_ edges: some Sequence<WaitForEdge>) {
        for edge in edges {
            transactions[edge.waiter.ref] = edge.waiter
            for blocker in edge.blockers where blocker.ref != edge.waiter.ref {
                transactions[blocker.ref] = blocker
                next[edge.waiter.ref, default: []].append((blocker.ref, edge.since))
            }
        }
    }

    /// One victim per cycle: finds a cycle, takes its youngest member out of the graph, and
    /// goes on until no cycle is left. Taking a member out breaks every cycle through it, so
    /// cycles sharing a transaction cost one victim. `excluded` are already being aborted.
    func victims(excluding excluded: Set<TransactionRef> = []) -> [DeadlockVictim] {
        var removed = excluded
        var found: [DeadlockVictim] = []
        while let cycle = findCycle(without: removed) {
            let victim = cycle.members.max { $0.priority < $1.priority }!
            found.append(DeadlockVictim(transaction: victim, since: cycle.since))
            removed.insert(victim.ref)
        }
        return found
    }

    /// A cycle among the transactions not in `removed`, by depth-first search, in a stable order.
    private func findCycle(without removed: Set<TransactionRef>) -> (members: [WaitingTransaction], since: Int64)? {
        enum Mark { case onPath, done }
        var marks: [TransactionRef: Mark] = [:]
        let starts = next.keys.filter { !removed.contains($0) }.sorted { transactions[$0]!.priority < transactions[$1]!.priority }
        for start in starts where marks[start] == nil {
            // The path from `start`, with the index of the next edge to follow at each step.
            var path: [(ref: TransactionRef, edge: Int, since: Int64)] = [(start, 0, .min)]
            marks[start] = .onPath
            while let top = path.last {
                let edges = next[top.ref] ?? []
                guard top.edge < edges.count else {
                    marks[top.ref] = .done
                    path.removeLast()
                    continue
                }
                path[path.count - 1].edge += 1
                let (blocker, since) = edges[top.edge]
                guard !removed.contains(blocker) else { continue }
                switch marks[blocker] {
                case .onPath:
                    let from = path.firstIndex { $0.ref == blocker }!
                    let members = path[from...].map { transactions[$0.ref]! }
                    // The cycle exists since its youngest edge: those on the path and the closing one.
                    let latest = path[(from + 1)...].map(\.since).reduce(since, max)
                    return (members, latest)
                case .done:
                    continue
                case nil:
                    marks[blocker] = .onPath
                    path.append((blocker, 0, since))
                }
            }
        }
        return nil
    }
}
