import StatefulFunctions

/// Deadlock detection. Each partition keeps the wait-for edges of the transactions waiting at
/// its addresses and, when they change (at most once per interval), reports them to one
/// detector address. The detector puts the partitions' latest reports together, finds the
/// cycles and sends each cycle's youngest member to its coordinator as the victim.
///
/// Reports cost one message per partition per interval however many transactions wait, where
/// chasing probes along the edges costs a message per edge per wave. All of it is transient
/// (not checkpointed): a restored partition reports again, and a restored detector hears from
/// every partition with waits within a refresh interval.
extension PartitionCore {
    /// Where the partitions' wait reports go.
    static let deadlockDetector = Address(TypeName(namespace: "statefun", name: "deadlock-detector"), "0")

    /// Partitions with waits report them again this often even when unchanged, so that a
    /// detector that lost its state (moved or restarted) rebuilds it.
    var waitReportRefreshMilliseconds: Int64 { 50 * transactionSettings.deadlockDetectionIntervalMilliseconds }

    /// Updates the wait-for edges of the transactions waiting at `address` after its queue
    /// changed, and schedules a report if an edge appeared, changed or went away.
    mutating func trackWaits(at address: Address, now: Int64) {
        guard var entry = locks[address] else { return }
        var changed = false
        var waiting: Set<TransactionRef> = []
        for waiter in entry.waiters {
            guard case .prepare(let request) = waiter, let blockers = entry.blockers(of: request.ref) else { continue }
            waiting.insert(request.ref)
            let refs = blockers.map(\.ref)
            if entry.edges[request.ref]?.blockers != refs {
                entry.edges[request.ref] = WaitEdge(blockers: refs, since: now)
                changed = true
            }
        }
        if entry.edges.count != waiting.count {
            entry.edges = entry.edges.filter { waiting.contains($0.key) }
            changed = true
        }
        guard changed else { return }
        locks[address] = entry
        let soonest = max(now, lastWaitReport + transactionSettings.deadlockDetectionIntervalMilliseconds)
        nextWaitReport = min(nextWaitReport ?? .max, soonest)
    }

    /// Sends this partition's wait-for edges to the detector if they changed since the last
    /// report (or a refresh is due).
    mutating func reportWaits(now: Int64) {
        nextWaitReport = nil
        var edges: [WaitForEdge] = []
        for entry in locks.values where !entry.waiters.isEmpty {
            for case .prepare(let request) in entry.waiters {
                guard let blockers = entry.blockers(of: request.ref) else { continue }
                edges.append(WaitForEdge(waiter: request.waiting, blockers: blockers, since: entry.edges[request.ref]?.since ?? now))
            }
        }
        edges.sort { $0.waiter.priority < $1.waiter.priority }
        let refresh = !edges.isEmpty && now - lastWaitReport >= waitReportRefreshMilliseconds
        if edges != reportedWaits || refresh {
            send(.waitReport(WaitReport(partition: partition, edges: edges)), from: Self.deadlockDetector,
                 to: Self.deadlockDetector, now: now)
            reportedWaits = edges
            lastWaitReport = now
        }
        if !edges.isEmpty { nextWaitReport = now + waitReportRefreshMilliseconds }
    }

    /// At the detector: a partition's latest waits. Looks for cycles in the waits of all
    /// partitions and sends each new victim to its coordinator.
    mutating func detectDeadlocks(_ report: WaitReport, now: Int64) {
        detector.reports[report.partition] = (report.edges, now)
        // A partition that moved without a last report is forgotten after a few refreshes.
        detector.reports = detector.reports.filter { !$0.value.edges.isEmpty && now - $0.value.at <= 3 * waitReportRefreshMilliseconds }
        // A victim stays out of the graph until every partition has reported its abort.
        detector.victims = detector.victims.filter { now - $0.value <= waitReportRefreshMilliseconds }
        let graph = WaitForGraph(detector.reports.values.flatMap(\.edges))
        for victim in graph.victims(excluding: Set(detector.victims.keys)) {
            statistics.cyclesFound += 1
            detector.victims[victim.transaction.ref] = now
            send(.victim(victim.transaction.ref, since: victim.since), from: Self.deadlockDetector,
                 to: victim.transaction.coordinator, now: now)
        }
    }
}

/// What the detector knows, when this partition holds its address. Not checkpointed.
struct DeadlockDetectorState {
    /// Each partition's latest edges, and when they arrived.
    var reports: [Int32: (edges: [WaitForEdge], at: Int64)] = [:]
    /// Victims chosen recently, and when.
    var victims: [TransactionRef: Int64] = [:]
}
