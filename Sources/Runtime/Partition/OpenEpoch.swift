import StatefulFunctions

/// What a partition's open epoch has changed so far: the contents of its next checkpoint
/// record besides the state itself. Closing the epoch turns it into the record and starts an
/// empty one.
struct OpenEpoch {
    /// Index of the next `MessageID` of this epoch.
    var nextIndex: Int32 = 0
    /// Addresses changed, in the order they were first changed.
    var dirty: [Address] = []
    var timersAdded: [Int64] = []
    var timersRemoved: [Int64] = []
    /// Whether input positions or channel marks moved.
    var inputsChanged = false
    /// Effects for other partitions and for Kafka, released once the epoch is stable.
    var outbox: [OutboxItem] = []
    /// How much of `outbox` `takeNewEnvelopes` has handed out.
    var handedOut = 0
    /// The changes of lock entries, and the coordinator entries changed.
    var lockChanges: [Address: [LockChange]] = [:]
    var dirtyCoordinators: Set<Address> = []
    /// Lock and coordinator entries that did not exist when the epoch first changed them:
    /// those gone again at its close are left out of its record (a transaction that starts and
    /// ends within one epoch leaves nothing to replay).
    var newLocks: Set<Address> = []
    var newCoordinators: Set<Address> = []
    /// Transactions started in this epoch, as they started: their start records are made and
    /// written at its close unless the transaction ended first (nil); indexed by coordinator.
    var startLogs: [ActiveTransaction?] = []
    var pendingStarts: [Address: Int] = [:]
    /// Messages applied per local sender epoch, acknowledged once this epoch is stable.
    var localAcks: [LocalAck: Int] = [:]
    /// Messages arrive in runs from one sender epoch: the current run is counted without hashing.
    var currentAck: LocalAck?
    var currentAckCount = 0
    /// Whether earlier epochs completed (every output acknowledged) since the last record.
    var completionsToRecord = false
    /// Epochs whose Kafka outputs the broker confirmed, not yet complete.
    var deliveriesToRecord: [Int64] = []
}
