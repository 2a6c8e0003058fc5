/// Picks, from what a partition's checkpoint log holds, the epochs that count: its valid
/// history.
///
/// A log holds the records of several incarnations (runs) of the partition. A crash can leave
/// an incarnation's last epochs durable but not stable: they applied messages from epochs of
/// other partitions that never became durable, and they count only if a mark in the stability
/// log, or the record itself, shows they do not depend on such epochs. When a partition is
/// recovered, its next incarnation's first record names the last valid epoch of the history it
/// recovered (`EpochLineage.previous`); everything an earlier incarnation wrote past that point
/// never counts. So the history is found by following these links back from the last
/// incarnation that wrote a first record:
///
/// - every incarnation but the last counts up to the epoch its successor names;
/// - the last counts up to the highest epoch marked stable (in its own records or in the
///   stability log), and then on through each following epoch that depends on no other
///   partition's unstable epochs.
public enum EpochChain {
    /// The incarnation at the end of the history `records` hold (read from a snapshot or from
    /// the log's start), and where in the stability log its marks are to be looked for; nil
    /// when the log holds no record.
    public static func lastIncarnation(_ records: [EpochRecord]) -> (incarnation: UInt64, stabilityOffset: Int64)? {
        guard let last = latestFirstRecord(records) ?? records.first else { return nil }
        let incarnation = last.lineage.incarnation
        let offset = records.lazy.filter { $0.lineage.incarnation == incarnation }.map(\.lineage.stabilityOffset).max() ?? 0
        return (incarnation, offset)
    }

    /// What recovery reads, in order: the snapshot it starts from (if any), then the log from
    /// the record of the snapshot's epoch on, without that record (the snapshot holds it).
    public static func records(snapshot: EpochRecord?, log: [EpochRecord]) -> [EpochRecord] {
        guard let snapshot else { return log }
        return [snapshot] + log.filter { $0.epoch != snapshot.epoch || $0.lineage.incarnation != snapshot.lineage.incarnation }
    }

    /// The records to replay, in order: the snapshot `records` start with (if any), then the
    /// valid epochs after it. `markedStable` is the highest epoch of the last incarnation that
    /// the stability log marks stable.
    public static func valid(_ records: [EpochRecord], markedStable: Int64) throws -> [EpochRecord] {
        guard let (last, _) = lastIncarnation(records) else { return [] }
        let snapshot = records.first?.isSnapshot == true ? records[0] : nil
        let ranges = try history(records, last: last, snapshot: snapshot)
        var byIncarnation: [UInt64: [Int64: EpochRecord]] = [:]
        for record in records.dropFirst(snapshot == nil ? 0 : 1) where byIncarnation[record.lineage.incarnation]?[record.epoch] == nil {
            byIncarnation[record.lineage.incarnation, default: [:]][record.epoch] = record
        }
        var chain = snapshot.map { [$0] } ?? []
        var head = snapshot.map { EpochPosition(incarnation: $0.lineage.incarnation, epoch: $0.epoch) } ?? .none
        for range in ranges {
            let own = byIncarnation[range.incarnation] ?? [:]
            var upTo = range.through
            if range.incarnation == last {
                upTo = max(range.from - 1, markedStable, own.values.map(\.lineage.stableThrough).max() ?? 0)
                // Past the marks, an epoch counts if it depends on no other partition's epochs.
                while let next = own[upTo + 1], next.lineage.dependencies.isEmpty { upTo += 1 }
            }
            var epoch = range.from
            while epoch <= upTo, let record = own[epoch], record.lineage.previous == head {
                chain.append(record)
                head = EpochPosition(incarnation: range.incarnation, epoch: epoch)
                epoch += 1
            }
            // A missing record ends the history: nothing after it can follow on.
            if epoch <= upTo && range.incarnation != last { break }
        }
        return chain
    }

    /// How many of `records` lie past the end of the valid history `valid` (as `valid(_:)`
    /// found it): epochs of an incarnation after its last valid one, or of an incarnation
    /// that is not part of the history at all. Those are what a crash cut off; any other
    /// record left out (a repeat, one past a gap) is an anomaly.
    public static func cutOff(_ records: [EpochRecord], valid: [EpochRecord]) -> Int {
        var reach: [UInt64: Int64] = [:]
        for record in valid { reach[record.lineage.incarnation] = max(reach[record.lineage.incarnation] ?? 0, record.epoch) }
        return records.count { record in
            guard let end = reach[record.lineage.incarnation] else { return true }
            return record.epoch > end
        }
    }

    /// The record that starts the latest incarnation: the last record in the log whose
    /// predecessor belongs to another incarnation.
    private static func latestFirstRecord(_ records: [EpochRecord]) -> EpochRecord? {
        records.last { $0.lineage.previous.incarnation != $0.lineage.incarnation }
    }

    private struct Range {
        var incarnation: UInt64
        var from: Int64
        var through: Int64
    }

    /// The incarnations of the valid history, oldest first, with the epochs each contributes
    /// (the last one's upper end is decided by its marks).
    private static func history(_ records: [EpochRecord], last: UInt64, snapshot: EpochRecord?) throws -> [Range] {
        var firsts: [UInt64: EpochRecord] = [:]
        for record in records where record.lineage.previous.incarnation != record.lineage.incarnation {
            firsts[record.lineage.incarnation] = record
        }
        var ranges: [Range] = []
        var incarnation = last
        var through = Int64.max
        while true {
            if let snapshot, snapshot.lineage.incarnation == incarnation {
                guard snapshot.epoch <= through else {
                    throw ByteReader.Malformed(description: "checkpoint snapshot at epoch \(snapshot.epoch) lies past the valid history")
                }
                ranges.append(Range(incarnation: incarnation, from: snapshot.epoch + 1, through: through))
                break
            }
            guard let first = firsts[incarnation] else {
                throw ByteReader.Malformed(description: "checkpoint log lacks the start of incarnation \(String(incarnation, radix: 16))")
            }
            ranges.append(Range(incarnation: incarnation, from: first.lineage.previous.epoch + 1, through: through))
            if first.lineage.previous == .none { break }
            incarnation = first.lineage.previous.incarnation
            through = first.lineage.previous.epoch
        }
        return ranges.reversed()
    }
}
