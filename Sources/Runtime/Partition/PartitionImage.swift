import StatefulFunctions

/// The whole partition as one closed epoch left it: what a snapshot record holds, so that
/// recovery can start from it instead of from the first epoch.
///
/// Taking an image costs the partition's loop no encoding: it shares the partition's tables
/// (copied only when the partition changes them next) and keeps state values as they are.
/// `record()` encodes it, which the worker does off the loop, while later epochs go on.
public struct PartitionImage: Sendable {
    public let partition: Int32
    /// The epoch it shows the partition after.
    public let epoch: Int64
    let entries: [Address: PartitionCore.Entry]
    let locks: [Address: LockEntry]
    let coordinators: [Address: CoordinatorEntry]
    let timers: [PendingTimer]
    let positions: [String: Int64]
    let applied: [Int32: ChannelMark]
    let sent: [Int32: Int64]
    let outbox: [(epoch: Int64, items: [OutboxItem])]
    let completedThrough: Int64
    let nextTimerSequence: Int64
    let outputFloors: [OutputPartition: Int64]
    let remoteQueues: [Address: RemoteQueue]

    /// The snapshot record: every address's state, every lock and coordinator entry, timer and
    /// remote queue, the outbox of every epoch not yet acknowledged and every output floor. Its
    /// lineage is left for the caller to set (that of the epoch it shows).
    public func record() throws(StatefulFunctionError) -> EpochRecord {
        var states: [EpochRecord.StateChange] = []
        states.reserveCapacity(entries.count)
        for (address, entry) in entries {
            for (name, cell) in zip(entry.state.names, entry.state.cells) {
                states.append(.init(address: address, name: name, value: try cell.bytes()))
            }
        }
        var transactions: [EpochRecord.TransactionStateChange] = []
        for (address, entry) in locks { transactions.append(.init(kind: .lock, address: address, value: try entry.encoded())) }
        for (address, entry) in coordinators { transactions.append(.init(kind: .coordinator, address: address, value: entry.encoded())) }
        return EpochRecord(
            partition: partition, epoch: epoch, isSnapshot: true, states: states, transactions: transactions,
            timersAdded: timers, timersRemoved: [], positions: positions, applied: applied, sent: sent, outbox: outbox,
            delivered: [], completedThrough: completedThrough, nextTimerSequence: nextTimerSequence,
            outputFloors: outputFloors,
            remoteQueues: remoteQueues.map { RemoteQueueChange(address: $0.key, removed: 0, appended: $0.value.invocations) })
    }
}
