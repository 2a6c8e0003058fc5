import StatefulFunctions

/// A partition's closed epochs on their way out: each is sealed with its lineage when it
/// closes, becomes durable when the checkpoint log has it, and is released once it is
/// recorded stable (see `StabilityTracker`), in epoch order. This is the one place that
/// decides when an epoch's outputs and its acknowledgements to local senders may go. The
/// worker drives it with the answers of its checkpoint and stability logs; the test harness
/// and the test network, which have nothing to make durable, at once (`passThrough`).
public struct EpochPipeline: Sendable {
    /// A closed epoch, kept until it is recorded stable.
    public struct Closed: Sendable {
        public var record: EpochRecord
        /// Acknowledgements owed to local senders once it is stable.
        public var acks: [LocalAck: Int]
        /// The incarnation of each local sender it applied messages of.
        public var senders: [Int32: UInt64]
    }

    public let partition: Int32
    public let incarnation: UInt64
    /// The last epoch closed (or recovered): the next record follows it.
    public private(set) var previous: EpochPosition
    /// Recorded stable through here; the stability log has this incarnation's marks from
    /// `stabilityOffset` on.
    public private(set) var stableThrough: Int64
    public private(set) var stabilityOffset: Int64
    /// The latest epoch of each local sender the open epoch applied messages of.
    private var openDependencies: [Int32: EpochRef] = [:]
    private var closed: [Int64: Closed] = [:]
    /// Epochs sealed and not yet durable.
    public private(set) var notDurable = 0

    public init(partition: Int32, incarnation: UInt64, recovered head: EpochPosition, stabilityOffset: Int64) {
        self.partition = partition
        self.incarnation = incarnation
        previous = head
        stableThrough = head.epoch
        self.stabilityOffset = stabilityOffset
    }

    /// Whether every sealed epoch was released.
    public var isEmpty: Bool { closed.isEmpty }

    /// Notes that the open epoch applied messages of `epoch` of a local partition. False when
    /// it already applied messages of an earlier run of that partition that are not recorded
    /// stable (`unresolved` keeps those): that run may have lost them, so this one must start over.
    public mutating func noteDependency(on epoch: EpochRef, unresolved: ([EpochRef]) -> [EpochRef]) -> Bool {
        if let known = openDependencies[epoch.partition] {
            if known.incarnation == epoch.incarnation, known.epoch >= epoch.epoch { return true }
            guard known.incarnation == epoch.incarnation || unresolved([known]).isEmpty else { return false }
        }
        openDependencies[epoch.partition] = epoch
        return true
    }

    /// Seals a record `PartitionCore.closeEpoch` returned: its lineage (this incarnation, the
    /// epoch before it, the dependencies `unresolved` keeps, what is recorded stable) goes
    /// into it, and it is kept until stable. Returns the record to write.
    public mutating func seal(_ record: EpochRecord, acks: [LocalAck: Int], unresolved: ([EpochRef]) -> [EpochRef]) -> EpochRecord {
        var record = record
        record.lineage = EpochLineage(
            incarnation: incarnation, previous: previous,
            dependencies: unresolved(openDependencies.values.sorted { $0.partition < $1.partition }),
            stableThrough: stableThrough, stabilityOffset: stabilityOffset)
        previous = EpochPosition(incarnation: incarnation, epoch: record.epoch)
        closed[record.epoch] = Closed(record: record, acks: acks, senders: openDependencies.mapValues(\.incarnation))
        openDependencies = [:]
        notDurable += 1
        return record
    }

    /// The checkpoint log has `epoch`: returns it with its dependencies, for the stability log.
    public mutating func durable(_ epoch: Int64) -> (epoch: EpochRef, dependencies: [EpochRef])? {
        notDurable -= 1
        guard closed[epoch] != nil else { return nil }
        return (EpochRef(partition: partition, incarnation: incarnation, epoch: epoch), closed[epoch]!.record.lineage.dependencies)
    }

    /// Epochs through `through` are recorded stable (the stability log holds this incarnation's
    /// marks from `offset` on): returns the epochs that may go now, in order.
    public mutating func stable(through: Int64, offset: Int64) -> [Closed] {
        guard through > stableThrough else { return [] }
        (stableThrough, stabilityOffset) = (through, offset)
        var released: [Closed] = []
        while let epoch = closed.keys.min(), epoch <= stableThrough { released.append(closed.removeValue(forKey: epoch)!) }
        return released
    }

    /// Closes the core's open epoch and releases it at once, for those with nothing to make
    /// durable and no other partition's epochs to wait for. Nil when the epoch has no changes.
    public mutating func passThrough(_ core: inout PartitionCore) throws(StatefulFunctionError) -> Closed? {
        guard let (record, acks) = try core.closeEpoch() else { return nil }
        let sealed = seal(record, acks: acks) { _ in [] }
        _ = durable(sealed.epoch)
        return stable(through: sealed.epoch, offset: stabilityOffset).first
    }
}
