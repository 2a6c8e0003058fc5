import StatefulFunctions

/// Everything one epoch of a partition changed, written to the partition's checkpoint log.
/// A snapshot record holds the whole partition instead of the changes, so recovery can start
/// from it. Replaying the records from the latest snapshot rebuilds the partition exactly.
public struct EpochRecord: Sendable {
    public struct StateChange: Sendable {
        public var address: Address
        public var name: String
        /// nil: deleted.
        public var value: [UInt8]?
    }

    /// A lock or coordinator entry of the transaction protocols, encoded; nil: removed.
    public struct TransactionStateChange: Sendable {
        public enum Kind: Int, Sendable {
            /// A whole lock entry (in snapshots).
            case lock = 0
            case coordinator = 1
            /// The changes of a lock entry in the epoch, to replay on the entry as it was.
            case lockChanges = 2
        }

        public var kind: Kind
        public var address: Address
        public var value: [UInt8]?
    }

    public var partition: Int32
    public var epoch: Int64
    public var isSnapshot: Bool
    public var states: [StateChange]
    public var transactions: [TransactionStateChange]
    public var timersAdded: [PendingTimer]
    public var timersRemoved: [Int64]
    /// Next offset to read, per input topic (this partition's number in each).
    public var positions: [String: Int64]
    /// The messages applied, per sender partition.
    public var applied: [Int32: ChannelMark]
    /// The last sequence number sent, per receiver partition.
    public var sent: [Int32: Int64]
    /// Outbox items by the epoch that produced them: this epoch's, and in a snapshot also the
    /// earlier ones not yet acknowledged.
    public var outbox: [(epoch: Int64, items: [OutboxItem])]
    /// Earlier epochs whose egress and dead-letter records the broker has confirmed since the
    /// previous record; recovery does not release those again.
    public var delivered: [Int64]
    /// Every outbox item of epochs up to here has been acknowledged.
    public var completedThrough: Int64
    public var nextTimerSequence: Int64
    /// Per output partition, an offset below every output of the epochs not yet delivered
    /// (see `OutputFloors`); empty in most records.
    public var outputFloors: [OutputPartition: Int64]
    /// The run that wrote the record, the record it follows and what it depends on.
    public var lineage = EpochLineage()
    /// How the epoch changed remote functions' queues of unanswered invocations.
    var remoteQueues: [RemoteQueueChange] = []

    /// The items this record's own epoch produced.
    public var ownOutbox: [OutboxItem] { outbox.first { $0.epoch == epoch }?.items ?? [] }
}
