/// A partition of a topic the application writes to (egress or dead letters). The runtime
/// knows nothing of Kafka, so this is its own type rather than the client's `TopicPartition`.
public struct OutputPartition: Hashable, Sendable {
    public var topic: String
    public var partition: Int32

    public init(_ topic: String, _ partition: Int32) {
        self.topic = topic
        self.partition = partition
    }
}

/// Where recovery looks for outputs the broker has although the checkpoint log does not
/// know they were delivered (a crash between the acknowledgement and the next checkpoint):
/// per output partition, an offset below every record of the epochs whose outputs are still
/// out.
///
/// One producer writes a partition's outputs epoch after epoch, so an epoch's records land
/// above those of earlier epochs. A floor therefore takes the offsets of delivered epochs
/// only in epoch order: an epoch delivered while an earlier one is still out waits, since
/// the earlier one's records may lie below its own. A floor that is too low only makes
/// recovery read more, so a rise is recorded only every `recordEvery` epochs; a first floor
/// of a partition, and every floor in a snapshot, at once.
struct OutputFloors: Sendable {
    static let recordEvery: Int64 = 64

    private(set) var offsets: [OutputPartition: Int64] = [:]
    /// Offsets of delivered epochs that wait for an earlier epoch.
    private var waiting: [Int64: [OutputPartition: Int64]] = [:]
    /// Every epoch up to here is in `offsets`, or had no outputs.
    private var through: Int64 = 0
    private var recordedAt: Int64 = 0
    /// Some floor rose since the last record.
    private var rose = false
    /// Some partition got its first floor since the last record.
    private var grew = false

    /// `epoch`'s outputs were acknowledged at these offsets (the highest per partition).
    mutating func delivered(epoch: Int64, at delivered: [OutputPartition: Int64]) {
        guard epoch > through, !delivered.isEmpty else { return }
        waiting[epoch, default: [:]].merge(delivered, uniquingKeysWith: max)
    }

    /// Takes in the offsets of every epoch before `open` whose earlier epochs are all
    /// delivered; `isOut` tells whether an epoch still has outputs out.
    mutating func advance(before open: Int64, isOut: (Int64) -> Bool) {
        var next = through + 1
        while next < open, !isOut(next) {
            if let delivered = waiting.removeValue(forKey: next) {
                for (output, offset) in delivered {
                    if let floor = offsets[output], floor >= offset { continue }
                    if offsets[output] == nil { grew = true } else { rose = true }
                    offsets[output] = offset
                }
            }
            next += 1
        }
        through = next - 1
    }

    /// What the checkpoint record of `epoch` carries: every floor, now and then; else none.
    mutating func toRecord(epoch: Int64) -> [OutputPartition: Int64] {
        guard grew || (rose && epoch - recordedAt >= Self.recordEvery) else { return [:] }
        recordedAt = epoch
        rose = false
        grew = false
        return offsets
    }

    /// Takes the floors of a checkpoint record; epochs up to `completedThrough` are delivered.
    mutating func restore(_ recorded: [OutputPartition: Int64], completedThrough: Int64) {
        offsets.merge(recorded, uniquingKeysWith: max)
        through = max(through, completedThrough)
        waiting = waiting.filter { $0.key > through }
    }
}
