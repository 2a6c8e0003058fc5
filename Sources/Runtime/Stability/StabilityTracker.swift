/// Decides, for the partitions of one worker, when their epochs are stable: when they count
/// for recovery, so that what they hold back (outputs that leave the worker, acknowledgements,
/// snapshot offsets) can go.
///
/// Partitions of one worker hand each other messages at once, before the sender's epoch is
/// durable; the receiving epoch then depends on the sender's. An epoch is stable when it is
/// durable, its predecessor is stable and every epoch it depends on is stable. Dependencies
/// can go both ways (a coordinator and its participants), so this is a greatest fixpoint: the
/// durable epochs, less those that depend, directly or not, on an epoch not yet durable.
///
/// Recovery reads one partition's log and cannot see the others', so a stable epoch is not
/// yet *recorded*: it is recorded once a mark naming it is in the stability log (one record for
/// all the partitions of the worker, so the epochs of a cycle become recorded together), or
/// when it depends on no other partition and its predecessor is recorded (its own log proves
/// it). Only recorded epochs are reported stable to their partitions.
///
/// A value type: it takes events and returns the actions to carry out (see `Action`).
public struct StabilityTracker: Sendable {
    public enum Action: Equatable, Sendable {
        /// The partition's epochs through `through` are recorded stable; `offset` is where the
        /// stability log holds (or will hold) the marks of this incarnation from now on.
        case stable(partition: Int32, incarnation: UInt64, through: Int64, offset: Int64)
        /// Append `marks` to the stability log as one record (`encodedMarks`), then call
        /// `marksWritten` (or `marksFailed`). Each mark is a partition's highest stable epoch:
        /// its epochs of that incarnation up to there are stable.
        case writeMarks([EpochRef])
        /// The partition must start over from its log: its epochs may depend on epochs of a
        /// partition that failed, which will never be stable.
        case fail(partition: Int32, incarnation: UInt64, reason: String)
    }

    private struct Chain {
        var incarnation: UInt64
        /// Recorded stable through here (reported to the partition).
        var recorded: Int64
        /// Stable through here, recorded or not.
        var stable: Int64
        /// The highest epoch in a mark being written.
        var requested: Int64
        /// Durable epochs above `recorded`, with the epochs of other partitions they depend on.
        var durable: [Int64: [EpochRef]] = [:]
        var offset: Int64
        /// Failing because another partition failed: its end starts no further failures.
        var doomed = false
    }

    private var chains: [Int32: Chain] = [:]
    /// The last incarnation of each partition that ended cleanly, and its last epoch (all of
    /// them recorded stable before it ended).
    private var ended: [Int32: (incarnation: UInt64, through: Int64)] = [:]
    /// Marks handed out to be written and not yet confirmed.
    public private(set) var marksInFlight = 0
    private let maxMarksInFlight: Int

    public init(maxMarksInFlight: Int = 2) {
        self.maxMarksInFlight = max(1, maxMarksInFlight)
    }

    /// Starts tracking `incarnation` of `partition`, recovered through epoch `recovered` (all
    /// of which is stable); its marks are in the stability log from `offset` on.
    public mutating func register(partition: Int32, incarnation: UInt64, recovered: Int64, offset: Int64) {
        chains[partition] = Chain(incarnation: incarnation, recorded: recovered, stable: recovered, requested: recovered,
                                  offset: offset)
    }

    /// Those of `dependencies` that are not recorded stable yet: what an epoch closing now
    /// depends on.
    public func unresolved(_ dependencies: [EpochRef]) -> [EpochRef] {
        dependencies.filter { dependency in dependency.epoch > (lastEpoch(of: dependency) { $1.recorded } ?? .min) }
    }

    /// `epoch` is durable; it applied messages of `dependencies`.
    public mutating func durable(_ epoch: EpochRef, dependencies: [EpochRef]) -> [Action] {
        guard chains[epoch.partition]?.incarnation == epoch.incarnation, epoch.epoch > chains[epoch.partition]!.stable else { return [] }
        chains[epoch.partition]!.durable[epoch.epoch] = dependencies
        return advance()
    }

    /// The stability log has `marks`, at `offset`.
    public mutating func marksWritten(_ marks: [EpochRef], offset: Int64) -> [Action] {
        marksInFlight -= 1
        var actions: [Action] = []
        for mark in marks where chains[mark.partition]?.incarnation == mark.incarnation {
            chains[mark.partition]!.offset = offset
            actions += record(mark.partition, through: mark.epoch)
        }
        return actions + advance()
    }

    /// Writing marks failed: they are written again (with whatever became stable since).
    public mutating func marksFailed() -> [Action] {
        marksInFlight -= 1
        for partition in chains.keys { chains[partition]!.requested = chains[partition]!.recorded }
        return writeMarksIfWanted()
    }

    /// `incarnation` of `partition` has ended: cleanly (every epoch recorded stable), or by a
    /// failure, which fails every other partition (their epochs may depend on its lost ones).
    public mutating func end(partition: Int32, incarnation: UInt64, clean: Bool) -> [Action] {
        guard let chain = chains[partition], chain.incarnation == incarnation else { return [] }
        chains[partition] = nil
        if clean {
            ended[partition] = (incarnation, chain.recorded)
            return advance()
        }
        guard !chain.doomed else { return [] }
        var actions: [Action] = []
        for (other, var entry) in chains where !entry.doomed {
            entry.doomed = true
            chains[other] = entry
            actions.append(.fail(partition: other, incarnation: entry.incarnation, reason: "partition \(partition) of this worker failed"))
        }
        return actions
    }

    /// Moves every partition's stable epoch as far as the durable epochs allow, then records
    /// what needs no mark and asks for marks for the rest.
    private mutating func advance() -> [Action] {
        var candidate: [Int32: Int64] = [:]
        for (partition, chain) in chains where !chain.doomed {
            var epoch = chain.stable
            while chain.durable[epoch + 1] != nil { epoch += 1 }
            candidate[partition] = epoch
        }
        // Greatest fixpoint: drop every candidate epoch (and those after it) with a dependency
        // outside the candidates, until nothing changes.
        var changed = true
        while changed {
            changed = false
            for (partition, through) in candidate {
                let chain = chains[partition]!
                var epoch = chain.stable + 1
                while epoch <= through {
                    if !chain.durable[epoch]!.allSatisfy({ isStable($0, candidate: candidate) }) {
                        candidate[partition] = epoch - 1
                        changed = true
                        break
                    }
                    epoch += 1
                }
            }
        }
        var actions: [Action] = []
        for (partition, through) in candidate {
            chains[partition]!.stable = through
            actions += record(partition, through: chains[partition]!.recorded)
        }
        return actions + writeMarksIfWanted()
    }

    private func isStable(_ dependency: EpochRef, candidate: [Int32: Int64]) -> Bool {
        let through = lastEpoch(of: dependency) { partition, chain in chain.doomed ? .min : candidate[partition] ?? chain.stable }
        return dependency.epoch <= (through ?? .min)
    }

    /// The last epoch of `dependency`'s incarnation that counts: `bound` of its chain while it
    /// runs, its last epoch once it ended cleanly; nil for an incarnation this tracker does not
    /// know (one that failed, or of another worker).
    private func lastEpoch(of dependency: EpochRef, bound: (Int32, Chain) -> Int64) -> Int64? {
        if let chain = chains[dependency.partition], chain.incarnation == dependency.incarnation {
            return bound(dependency.partition, chain)
        }
        if let end = ended[dependency.partition], end.incarnation == dependency.incarnation { return end.through }
        return nil
    }

    /// Records `partition` stable through `through` (a mark has it), and on through each
    /// stable epoch that depends on nothing; reports the new recorded epoch.
    private mutating func record(_ partition: Int32, through: Int64) -> [Action] {
        var chain = chains[partition]!
        var recorded = max(chain.recorded, min(through, chain.stable))
        while recorded < chain.stable, chain.durable[recorded + 1]?.isEmpty == true { recorded += 1 }
        guard recorded > chain.recorded else { return [] }
        for epoch in chain.durable.keys where epoch <= recorded { chain.durable[epoch] = nil }
        chain.recorded = recorded
        chains[partition] = chain
        return [.stable(partition: partition, incarnation: chain.incarnation, through: recorded, offset: chain.offset)]
    }

    /// Asks for a mark when an epoch with dependencies became stable that no mark being written
    /// covers (one without needs none once its predecessor is recorded). A mark names every
    /// partition with stable epochs not yet recorded, so any mark written covers all that was
    /// stable when it was asked for.
    private mutating func writeMarksIfWanted() -> [Action] {
        func needsMark(_ chain: Chain) -> Bool {
            !chain.doomed && chain.stable > max(chain.requested, chain.recorded)
                && (max(chain.requested, chain.recorded) + 1...chain.stable).contains { chain.durable[$0]?.isEmpty == false }
        }
        guard marksInFlight < maxMarksInFlight, chains.values.contains(where: needsMark) else { return [] }
        let marks = chains.filter { !$0.value.doomed && $0.value.stable > $0.value.recorded }
            .map { EpochRef(partition: $0.key, incarnation: $0.value.incarnation, epoch: $0.value.stable) }
            .sorted { $0.partition < $1.partition }
        for mark in marks { chains[mark.partition]!.requested = mark.epoch }
        marksInFlight += 1
        return [.writeMarks(marks)]
    }
}

extension StabilityTracker {
    /// One record of the stability log.
    public static func encodedMarks(_ marks: [EpochRef]) -> [UInt8] {
        var writer = ByteWriter(capacity: 8 + 24 * marks.count)
        writer.write(marks.count)
        for mark in marks {
            writer.write(mark.partition)
            writer.write(mark.incarnation)
            writer.write(mark.epoch)
        }
        return writer.bytes
    }

    public static func marks(decoding bytes: [UInt8]) throws -> [EpochRef] {
        var reader = ByteReader(bytes)
        var marks: [EpochRef] = []
        for _ in 0..<(try reader.readCount()) {
            marks.append(EpochRef(partition: try reader.readInt32(), incarnation: try reader.readUInt64(), epoch: try reader.readInt64()))
        }
        return marks
    }
}
