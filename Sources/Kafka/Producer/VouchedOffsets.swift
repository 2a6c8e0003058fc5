/// Tells which acknowledged records the broker placed at an offset and which it only vouched
/// for.
///
/// A broker answers a retried batch with "duplicate sequence number" when it counts the batch
/// as written before; Tansu also answers so for a batch it lost when stopped between counting
/// and writing it. librdkafka then reports the batch delivered with base offset -1 and numbers
/// its records from there: -1, 0, 1, ... Only the first says it has no offset, so the rest
/// are recognized here: one producer's acknowledgements of a partition come in order with
/// rising offsets, so an offset that does not rise, or that continues the count from -1, is
/// not a real one.
struct VouchedOffsets {
    private struct Partition {
        /// The highest real offset acknowledged, -1 before the first.
        var last: Int64 = -1
        /// The offset librdkafka gives the next record of a batch acknowledged without one.
        var nextInVouchedBatch: Int64?
    }

    private var partitions: [PartitionKey: Partition] = [:]

    /// A partition of a topic handle: the handle's address stands for its topic.
    struct PartitionKey: Hashable {
        let topic: UInt
        let partition: Int32
    }

    /// Whether `offset`, acknowledged for `key`, is where the broker wrote the record.
    mutating func isReal(_ offset: Int64, of key: PartitionKey) -> Bool {
        var state = partitions[key] ?? Partition()
        defer { partitions[key] = state }
        if offset < 0 {
            state.nextInVouchedBatch = 0
            return false
        }
        if let next = state.nextInVouchedBatch, offset == next {
            state.nextInVouchedBatch = next + 1
            return false
        }
        state.nextInVouchedBatch = nil
        guard offset > state.last else { return false }
        state.last = offset
        return true
    }
}
