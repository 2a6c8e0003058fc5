/// An epoch of one run of a partition. A partition gets a new random incarnation each time it
/// is recovered, so an epoch number that a lost run used and the next run uses again stays
/// distinct.
public struct EpochRef: Hashable, Sendable, CustomStringConvertible {
    public var partition: Int32
    public var incarnation: UInt64
    public var epoch: Int64

    public init(partition: Int32, incarnation: UInt64, epoch: Int64) {
        self.partition = partition
        self.incarnation = incarnation
        self.epoch = epoch
    }

    public var description: String { "\(partition)/\(String(incarnation, radix: 16))/\(epoch)" }
}

/// A point in a partition's history: an epoch of an incarnation. `none` is before the first epoch.
public struct EpochPosition: Hashable, Sendable {
    public var incarnation: UInt64
    public var epoch: Int64

    public init(incarnation: UInt64, epoch: Int64) {
        self.incarnation = incarnation
        self.epoch = epoch
    }

    public static let none = EpochPosition(incarnation: 0, epoch: 0)
}

/// Where an epoch record sits in its partition's history and what it depends on: what recovery
/// needs to tell the epochs that count from those a crash cut off (see `EpochChain`).
public struct EpochLineage: Sendable, Equatable {
    /// The run of the partition that wrote the record.
    public var incarnation: UInt64
    /// The record this one follows: the previous epoch of the same incarnation or, for an
    /// incarnation's first record, the last valid epoch of the history it recovered.
    public var previous: EpochPosition
    /// Epochs of other partitions whose messages this epoch applied before they were known
    /// stable: this epoch counts only if they do.
    public var dependencies: [EpochRef]
    /// The highest epoch of this incarnation known stable when this one closed, and the offset
    /// in the stability log from which the marks of this incarnation are to be read.
    public var stableThrough: Int64
    public var stabilityOffset: Int64

    public init(incarnation: UInt64 = 0, previous: EpochPosition = .none, dependencies: [EpochRef] = [],
                stableThrough: Int64 = 0, stabilityOffset: Int64 = 0) {
        self.incarnation = incarnation
        self.previous = previous
        self.dependencies = dependencies
        self.stableThrough = stableThrough
        self.stabilityOffset = stabilityOffset
    }
}
