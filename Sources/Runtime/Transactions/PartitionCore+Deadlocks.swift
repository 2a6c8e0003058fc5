import StatefulFunctions

/// Deadlock detection. Each partition keeps the wait-for edges of the transactions waiting at
/// its addresses and, when they change (at most once per interval), reports the changes to one
/// detector address. The detector puts the partitions' latest reports together, finds the
/// cycles and sends each cycle's youngest member to its coordinator as the victim.
///
/// Reports cost at most one message per partition per interval, sized by what changed, where
/// chasing probes along the edges would cost a message per edge per wave. The edges and the
/// detector's view are not checkpointed: a restored partition reports all its waits, and a
/// restored detector hears all waits of every partition within a refresh interval.
extension PartitionCore {
    /// Where the partitions' wait reports go.
    static let deadlockDetector = Address(TypeName(namespace: "statefun", name: "deadlock-detector"), "0")

    /// Partitions with waits report all of them this often, so that a detector that lost its
    /// state (moved or restarted) rebuilds it.
    var waitReportRefreshMilliseconds: Int64 { 50 * transactionSettings.deadlockDetectionIntervalMilliseconds }

    /// Updates the wait-for edges of the transactions waiting at `address` after its queue
    /// changed, and schedules a report if an edge appeared, changed or went away.
    mutating func trackWaits(at address: Address, now: Int64) {
        var changed = false
        if var entry = locks[address] {
            var waiting: Set<TransactionRef> = []
            for (request, blockers) in entry.waitsFor() {
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
            if changed { locks[address] = entry }
        } else {
            // The entry is gone with its waits, which the detector may still have.
            changed = waitReports.reported?.isEmpty == false
        }
        guard changed else { return }
        let soonest = max(now, waitReports.last + transactionSettings.deadlockDetectionIntervalMilliseconds)
        waitReports.next = min(waitReports.next ?? .max, soonest)
    }

    /// Sends the detector what changed in this partition's wait-for edges since the last report,
    /// or all of them when a refresh is due.
    mutating func reportWaits(now: Int64) {
        waitReports.next = nil
        var current: [TransactionRef: WaitForEdge] = [:]
        for entry in locks.values where !entry.waiters.isEmpty {
            for (request, blockers) in entry.waitsFor() {
                let since = entry.edges[request.ref]?.since ?? now
                // A transaction waiting at two addresses here has one edge to all it waits for.
                if var edge = current[request.ref] {
                    edge.blockers += blockers
                    edge.since = max(edge.since, since)
                    current[request.ref] = edge
                } else {
                    current[request.ref] = WaitForEdge(waiter: request.waiting, blockers: blockers, since: since)
                }
            }
        }
        let report: WaitReport?
        if let reported = waitReports.reported, current.isEmpty || now - waitReports.lastFull < waitReportRefreshMilliseconds {
            let changed = current.values.filter { reported[$0.waiter.ref] != $0 }
            let ended = reported.keys.filter { current[$0] == nil }
            report = changed.isEmpty && ended.isEmpty ? nil : WaitReport(partition: partition, isFull: false, edges: changed, ended: ended)
        } else {
            report = WaitReport(partition: partition, isFull: true, edges: Array(current.values), ended: [])
            waitReports.lastFull = now
        }
        if let report {
            send(.waitReport(report), from: Self.deadlockDetector, to: Self.deadlockDetector, now: now)
            waitReports.last = now
        }
        waitReports.reported = current
        if !current.isEmpty { waitReports.next = waitReports.lastFull + waitReportRefreshMilliseconds }
    }

    /// At the detector: a partition's changed waits. The search for cycles runs at most once
    /// per interval, over the waits of all partitions.
    mutating func receiveWaits(_ report: WaitReport, now: Int64) {
        var edges = report.isFull ? [:] : detector.waits[report.partition]?.edges ?? [:]
        for ended in report.ended { edges[ended] = nil }
        for edge in report.edges { edges[edge.waiter.ref] = edge }
        detector.waits[report.partition] = (edges, now)
        let soonest = max(now, detector.lastSearch + transactionSettings.deadlockDetectionIntervalMilliseconds)
        detector.nextSearch = min(detector.nextSearch ?? .max, soonest)
    }

    /// Looks for cycles in the waits of all partitions and sends each new victim to its coordinator.
    mutating func searchDeadlocks(now: Int64) {
        detector.nextSearch = nil
        detector.lastSearch = now
        // A partition that moved without a last report is forgotten after a few refreshes.
        detector.waits = detector.waits.filter { !$0.value.edges.isEmpty && now - $0.value.at <= 3 * waitReportRefreshMilliseconds }
        // A victim stays out of the graph until every partition has reported its abort.
        detector.victims = detector.victims.filter { now - $0.value <= waitReportRefreshMilliseconds }
        let graph = WaitForGraph(detector.waits.values.flatMap(\.edges.values))
        for victim in graph.victims(excluding: Set(detector.victims.keys)) {
            statistics.cyclesFound += 1
            detector.victims[victim.transaction.ref] = now
            send(.victim(victim.transaction.ref, since: victim.since), from: Self.deadlockDetector,
                 to: victim.transaction.coordinator, now: now)
        }
    }
}

/// The partition's side of deadlock detection: the waits last reported (nil: unknown, after
/// recovery), when, when all were, and when the next report is due (nil: nothing is).
/// Not checkpointed.
struct WaitReports {
    var reported: [TransactionRef: WaitForEdge]? = [:]
    var last: Int64 = .min / 2
    var lastFull: Int64 = .min / 2
    var next: Int64?

    /// After recovery the detector may hold waits of this partition from before: the next
    /// report, at once, says all that is true now.
    mutating func forgetReported() {
        reported = nil
        next = 0
    }
}

/// What the detector knows, when this partition holds its address. Not checkpointed.
struct DeadlockDetectorState {
    /// Each partition's waiting transactions with their edges, and when it last reported.
    var waits: [Int32: (edges: [TransactionRef: WaitForEdge], at: Int64)] = [:]
    /// Victims chosen recently, and when.
    var victims: [TransactionRef: Int64] = [:]
    /// When to search for cycles next (nil: nothing new), and when it last did.
    var nextSearch: Int64?
    var lastSearch: Int64 = .min / 2
}
