import StatefulFunctions

/// Where an input came from, so it is applied once: Kafka topic and offset.
public struct InputPosition: Hashable, Sendable {
    public var topic: String
    public var offset: Int64

    public init(topic: String, offset: Int64) {
        self.topic = topic
        self.offset = offset
    }
}

/// Something for a partition to process.
public enum PartitionInput: Sendable {
    /// A record of an ingress topic partition this partition reads, with where it goes if that
    /// was worked out ahead (`PartitionCore.route(_:application:maxRecordBytes:)`, e.g. on the
    /// thread that fetched it); nil: the partition works it out.
    case ingress(IngressRecord, position: InputPosition, route: IngressRoute? = nil)
    /// A message from another partition: from the internal topic (with its position) or handed
    /// over in memory by a partition of the same worker (no position).
    case envelope(Envelope, position: InputPosition?)
    /// A record that cannot be read at all; it goes to the dead-letter topic.
    case malformed(IngressRecord, position: InputPosition, reason: String)
}

/// Where an ingress record goes: an address and the message for it, or the dead letters.
public typealias IngressRoute = Result<(Address, Message), DeadLetterReason>

/// An acknowledgement owed to a sender partition once the epoch that applied its messages is durable.
public struct LocalAck: Hashable, Sendable {
    public var senderPartition: Int32
    public var epoch: Int64
}

/// The logic of one key partition, without I/O: its functions' state, pending timers, input
/// positions, de-duplication marks and outbox, grouped in epochs.
///
/// Inputs are applied at once; effects for other partitions and for Kafka wait in the outbox
/// until the caller has made the epoch durable (`closeEpoch`, then the caller writes the
/// record). Messages between addresses of this partition are processed at once, in the same
/// epoch, since they roll back together.
public struct PartitionCore {
    public let partition: Int32
    public let application: Application
    let partitionOf: @Sendable (Address) -> Int32
    private let maxRecordBytes: Int
    let transactionSettings: TransactionSettings

    /// State per address, with the names this epoch changed.
    private var entries: [Address: Entry] = [:]
    /// Remote functions' queues and the calls to make.
    var remote = RemoteCalls()
    private(set) var timers = TimerTable()
    public private(set) var positions: [String: Int64] = [:]
    /// What was applied from each sender partition.
    public private(set) var applied: [Int32: ChannelMark] = [:]
    /// The last sequence number sent to each partition.
    public private(set) var sent: [Int32: Int64] = [:]
    /// The open epoch.
    public private(set) var epoch: Int64 = 1
    /// What the open epoch changed: it goes into the epoch's checkpoint record, and a new
    /// open epoch starts empty.
    var open = OpenEpoch()
    private var nextTimerSequence: Int64 = 0

    /// Participant addresses that are locked or have waiters.
    var locks: [Address: LockEntry] = [:]
    /// Coordinator addresses with a running or queued transaction.
    var coordinators: [Address: CoordinatorEntry] = [:]
    public internal(set) var statistics = TransactionStatistics()
    /// What this partition told the deadlock detector, and when it tells it next.
    var waitReports = WaitReports()
    /// The deadlock detector's state, used only by the partition of its address.
    var detector = DeadlockDetectorState()

    struct Entry: Sendable {
        var state = AddressState()
        /// Values written in the open epoch, by their index in `state.names`: only those go into
        /// the checkpoint (an account's transfer rewrites its balance, not its other fields).
        /// `allChanged` marks all of them (after a deletion moved the indices, or past 63 values).
        var changed: UInt64 = 0
        /// Names deleted in the open epoch (rare, so kept apart).
        var deletedNames: [String] = []

        var isDirty: Bool { changed != 0 || !deletedNames.isEmpty }
        static let allChanged = UInt64.max

        /// The bit of the value at `index`; past 63 values, all of them.
        static func mask(_ index: Int) -> UInt64 { index < 64 ? 1 << UInt64(index) : allChanged }

        func isChanged(_ index: Int) -> Bool { changed & Self.mask(index) == Self.mask(index) }
    }

    /// Signals for other partitions, sent without waiting for the epoch (see `Envelope.isSignal`).
    private var signals: [(envelope: Envelope, targetPartition: Int32)] = []

    /// Outbox items released but not yet acknowledged, by epoch, with the count still owed.
    private var unacknowledged: [Int64: (items: [OutboxItem], pending: Int)] = [:]
    public private(set) var completedThrough: Int64 = 0
    private var floors = OutputFloors()

    private struct Pending {
        let target: Address
        let caller: Address?
        let payload: Payload
        let origin: InvocationOrigin
    }

    private var runQueue: [Pending] = []
    private var invoking = false
    /// Reused for every invocation.
    let context = Context()
    /// Runs of messages to one function type skip the lookup of its binding.
    private var lastBinding: FunctionBinding?

    /// When set, every invocation is appended to `invocations` (for the test harness).
    public var recordsInvocations = false
    public private(set) var invocations: [(target: Address, caller: Address?, message: Message)] = []

    public init(
        partition: Int32, application: Application, maxRecordBytes: Int = 1_000_000,
        transactionSettings: TransactionSettings = TransactionSettings(),
        partitionOf: @escaping @Sendable (Address) -> Int32
    ) {
        self.partition = partition
        self.application = application
        self.maxRecordBytes = maxRecordBytes
        self.transactionSettings = transactionSettings
        self.partitionOf = partitionOf
    }

    // MARK: Processing

    /// Applies `input` at time `now`. Inputs already applied (by position or message id) are dropped.
    public mutating func process(_ input: PartitionInput, now: Int64) {
        switch input {
        case .ingress(let record, let position, let route):
            guard accept(position) else { return }
            ingest(record, route: route ?? Self.route(record, application: application, maxRecordBytes: maxRecordBytes),
                   origin: .record(topic: position.topic, offset: position.offset), now: now)
        case .envelope(let envelope, let position):
            if let position, !accept(position) { return }
            if !envelope.isSignal {
                if position == nil { countLocalAck(LocalAck(senderPartition: envelope.id.partition, epoch: envelope.id.epoch)) }
                guard applied[envelope.id.partition, default: ChannelMark()].accept(envelope.sequence) else { return }
                open.inputsChanged = true
            }
            route(envelope.target, caller: envelope.source, payload: envelope.payload, origin: .function(envelope.source), now: now)
        case .malformed(let record, let position, let reason):
            guard accept(position) else { return }
            deadLetter(.undecodable(reason), origin: .record(topic: position.topic, offset: position.offset), key: record.key, value: record.value)
        }
        drain(now: now)
    }

    /// Fires the timers due at `now`, and runs deadlock detection's reports and searches when due.
    public mutating func fireTimers(now: Int64) {
        // Queue them all first, so they run in due order before what they cause.
        invoking = true
        for timer in timers.takeDue(now: now) {
            open.timersRemoved.append(timer.sequence)
            route(timer.target, caller: timer.sender, payload: timer.payload, origin: .timer(timer.sender), now: now)
        }
        if let report = waitReports.next, report <= now { reportWaits(now: now) }
        if let search = detector.nextSearch, search <= now { searchDeadlocks(now: now) }
        drain(now: now)
    }

    /// When the next timer (or deadlock detection's next step) is due, if any.
    public mutating func nextTimerDue() -> Int64? {
        // Called after every batch: no array for three values.
        var due = timers.nextDue()
        if let report = waitReports.next { due = min(due ?? report, report) }
        if let search = detector.nextSearch { due = min(due ?? search, search) }
        return due
    }

    public var pendingTimerCount: Int { timers.count }

    /// Reads one state value of an address (for tests and tools).
    public func state<V>(_ spec: ValueSpec<V>, of address: Address) throws(StatefulFunctionError) -> V? {
        try entries[address]?.state[spec.name]?.value(for: spec)
    }

    /// How many addresses have state.
    public var addressCount: Int { entries.count }

    /// How many addresses are locked by a transaction or have messages waiting for a lock.
    public var lockedAddressCount: Int { locks.count }

    /// How many coordinator addresses have a transaction running or queued.
    public var busyCoordinatorCount: Int { coordinators.count }

    /// Returns the transaction counts gathered since the last call, and starts again from zero.
    public mutating func takeStatistics() -> TransactionStatistics {
        defer { statistics = TransactionStatistics() }
        return statistics
    }

    private mutating func accept(_ position: InputPosition) -> Bool {
        if let next = positions[position.topic], position.offset < next { return false }
        positions[position.topic] = position.offset + 1
        open.inputsChanged = true
        return true
    }

    /// Where `record` goes: the dead letters when it is too large or no binding reads its
    /// topic, else where its binding says. Depends on nothing but its arguments, so it can run
    /// on any thread before the record reaches its partition.
    public static func route(_ record: IngressRecord, application: Application, maxRecordBytes: Int) -> IngressRoute {
        let size = (record.key?.count ?? 0) + (record.value?.count ?? 0)
        if size > maxRecordBytes { return .failure(.tooLarge(bytes: size, limit: maxRecordBytes)) }
        guard let binding = application.ingresses.first(where: { $0.topic == record.topic }) else {
            return .failure(.noIngressBinding(topic: record.topic))
        }
        return binding.route(record)
    }

    private mutating func ingest(_ record: IngressRecord, route: IngressRoute, origin: InvocationOrigin, now: Int64) {
        switch route {
        case .failure(let reason): deadLetter(reason, origin: origin, key: record.key, value: record.value)
        case .success(let (target, message)): self.route(target, caller: nil, payload: .message(message), origin: origin, now: now)
        }
    }

    /// Invokes a target of this partition at once (or queues it behind the invocation running
    /// now), or puts it in the outbox for the owning partition.
    mutating func route(_ target: Address, caller: Address?, payload: Payload, origin: InvocationOrigin, now: Int64) {
        let owner = partitionOf(target)
        if owner == partition {
            if invoking {
                runQueue.append(Pending(target: target, caller: caller, payload: payload, origin: origin))
            } else {
                invoking = true
                invoke(target, caller: caller, payload: payload, origin: origin, now: now)
                invoking = false
            }
        } else if case .transaction(let message) = payload, message.isSignal {
            signals.append((Envelope(id: MessageID(partition: partition, epoch: 0, index: 0), sequence: 0, target: target,
                                     source: caller, payload: payload, isSignal: true), owner))
        } else {
            let sequence = sent[owner, default: 0] + 1
            sent[owner] = sequence
            let envelope = Envelope(id: takeID(), sequence: sequence, target: target, source: caller, payload: payload)
            open.outbox.append(.envelope(envelope, targetPartition: owner))
        }
    }

    /// Returns the messages for other partitions put in the outbox since the last call (in the
    /// open epoch). A worker hands those for its own partitions over at once: the receiving
    /// epoch then depends on the open one (see `StabilityTracker`). They stay in the outbox,
    /// to be sent again after a recovery until acknowledged.
    public mutating func takeNewEnvelopes() -> [(envelope: Envelope, targetPartition: Int32)] {
        defer { open.handedOut = open.outbox.count }
        return open.outbox[open.handedOut...].compactMap { item in
            if case .envelope(let envelope, let target) = item { (envelope, target) } else { nil }
        }
    }

    /// Returns the signals for other partitions produced since the last call; the caller sends
    /// them right away.
    public mutating func takeSignals() -> [(envelope: Envelope, targetPartition: Int32)] {
        defer { signals = [] }
        return signals
    }

    mutating func drain(now: Int64) {
        invoking = true
        defer { invoking = false }
        var next = 0
        while next < runQueue.count {
            let pending = runQueue[next]
            next += 1
            invoke(pending.target, caller: pending.caller, payload: pending.payload, origin: pending.origin, now: now)
        }
        runQueue.removeAll(keepingCapacity: true)
    }

    /// Runs what arrived for `target`, unless a transaction's lock makes it wait.
    private mutating func invoke(_ target: Address, caller: Address?, payload: Payload, origin: InvocationOrigin, now: Int64) {
        if !locks.isEmpty, locks[target] != nil, waitsForLock(payload) {
            changeLock(at: target, .appendWaiter(.message(caller: caller, payload: payload, origin: origin)))
            return
        }
        dispatch(target, caller: caller, payload: payload, origin: origin, now: now)
    }

    /// Runs what arrived for `target`, locked or not.
    mutating func dispatch(_ target: Address, caller: Address?, payload: Payload, origin: InvocationOrigin, now: Int64) {
        switch payload {
        case .message(let message):
            if recordsInvocations { invocations.append((target, caller, message)) }
            if lastBinding?.type != target.type { lastBinding = application.binding(for: target.type) }
            if let endpoint = lastBinding?.remote {
                return enqueueRemote(target, endpoint: endpoint, [RemoteInvocation(caller: caller, message: message, origin: origin)],
                                     now: now)
            }
            if let spec = lastBinding?.coordinator {
                return request(at: target, spec: spec, caller: caller, message: message, origin: origin, now: now)
            }
            call(target, caller: caller, message: message, origin: origin, now: now)
        case .transaction(let message):
            handle(message, at: target, now: now)
        }
    }

    /// A plain invocation of a function.
    private mutating func call(_ target: Address, caller: Address?, message: Message, origin: InvocationOrigin, now: Int64) {
        let index = entries.index(forKey: target)
        let outcome = application.invoke(target, binding: lastBinding, caller: caller, message: message,
                                         state: index.map { entries.values[$0].state } ?? AddressState(), now: now, in: context)
        if case .failed(let reason) = outcome {
            return deadLetter(reason, origin: origin, target: target, key: Array(target.id.utf8), value: message.payload)
        }
        // Invoking touched no other entry, so `index` is still valid.
        apply(context.writes, at: target, index: index)
        perform(context.effects, from: target, now: now)
    }

    /// The state of `address` as functions see it.
    func currentState(of address: Address) -> AddressState { entries[address]?.state ?? AddressState() }

    /// Applies state changes of an invocation of `address`.
    mutating func apply(_ writes: [StateWrite], at address: Address) {
        guard !writes.isEmpty else { return }
        apply(writes, at: address, index: entries.index(forKey: address))
    }

    /// Applies state changes of an invocation of `address`, whose entry is at `index` (nil: it has none).
    private mutating func apply(_ writes: [StateWrite], at address: Address, index: Dictionary<Address, Entry>.Index?) {
        guard !writes.isEmpty else { return }
        let firstChange: Bool
        if let index {
            firstChange = Self.apply(writes, to: &entries.values[index])
        } else {
            var entry = Entry()
            firstChange = Self.apply(writes, to: &entry)
            entries[address] = entry
        }
        if firstChange { open.dirty.append(address) }
    }

    /// Carries out the effects of an invocation of `sender`.
    mutating func perform(_ effects: [Effect], from sender: Address, now: Int64) {
        for effect in effects {
            switch effect {
            case .send(let to, let message):
                route(to, caller: sender, payload: .message(message), origin: .function(sender), now: now)
            case .sendDelayed(let to, let message, let delay, let token):
                schedule(.message(message), from: sender, to: to, at: now.clamped(plus: delay), token: token)
            case .cancelDelayed(let token):
                cancelTimer(of: sender, token: token)
            case .egress(let record):
                emit(record)
            }
        }
    }

    /// Sends `payload` from `sender` to `target` at time `due`; a pending one from `sender` with the same token is replaced.
    mutating func schedule(_ payload: Payload, from sender: Address, to target: Address, at due: Int64, token: String?) {
        nextTimerSequence += 1
        let timer = PendingTimer(sequence: nextTimerSequence, due: due, sender: sender, target: target,
                                 payload: payload, cancellationToken: token)
        if let replaced = timers.add(timer) { open.timersRemoved.append(replaced) }
        open.timersAdded.append(timer.sequence)
    }

    mutating func cancelTimer(of sender: Address, token: String) {
        if let cancelled = timers.cancel(sender: sender, token: token) { open.timersRemoved.append(cancelled.sequence) }
    }

    /// Writes `record` to Kafka once the open epoch is durable.
    mutating func emit(_ record: EgressRecord) {
        open.outbox.append(.egress(record, id: takeID()))
    }

    /// Returns true when these are the entry's first changes in the epoch.
    private static func apply(_ writes: [StateWrite], to entry: inout Entry) -> Bool {
        let first = !entry.isDirty
        for write in writes {
            if let index = entry.state.update(write.name, to: write.cell) {
                entry.changed |= Entry.mask(index)
            } else {
                if !entry.deletedNames.contains(write.name) { entry.deletedNames.append(write.name) }
                // The values after it moved down: write them all rather than track the move.
                if entry.changed != 0 { entry.changed = Entry.allChanged }
            }
        }
        return first
    }

    mutating func deadLetter(_ reason: DeadLetterReason, origin: InvocationOrigin, target: Address? = nil, key: [UInt8]?, value: [UInt8]?) {
        var text = switch origin {
        case .record(let topic, let offset): "\(topic)/\(partition)/\(offset)"
        case .function(let sender): sender?.description ?? "outside"
        case .timer(let sender): "\(sender) (delayed)"
        }
        if let target { text += " -> \(target)" }
        open.outbox.append(.deadLetter(DeadLetter(reason: reason, origin: text, key: key, value: value), id: takeID()))
    }

    mutating func takeID() -> MessageID {
        defer { open.nextIndex += 1 }
        return MessageID(partition: partition, epoch: epoch, index: open.nextIndex)
    }

    // MARK: Epochs

    /// True when the open epoch has something to checkpoint.
    public var hasChanges: Bool {
        hasChangesBesidesDeliveries || open.completionsToRecord || !open.deliveriesToRecord.isEmpty
    }

    /// True when the open epoch has changed more than the record of which earlier epochs'
    /// outputs were delivered. That record only spares recovery a look at the broker, so it
    /// can wait for the next epoch with other changes.
    public var hasChangesBesidesDeliveries: Bool {
        !open.dirty.isEmpty || !open.timersAdded.isEmpty || !open.timersRemoved.isEmpty || open.inputsChanged || !open.outbox.isEmpty
            || !open.localAcks.isEmpty || open.currentAck != nil
            || !open.lockChanges.isEmpty || !open.dirtyCoordinators.isEmpty || !remote.dirty.isEmpty
    }

    /// Ends the open epoch: returns its checkpoint record and the acknowledgements to send to
    /// local senders once the record is durable. The caller releases `record.ownOutbox` after
    /// the record is durable, and reports each delivery through `acknowledge`.
    public mutating func closeEpoch() throws(StatefulFunctionError) -> (record: EpochRecord, acks: [LocalAck: Int])? {
        guard hasChanges else { return nil }
        emitPendingStarts()
        var stateChanges: [EpochRecord.StateChange] = []
        let transactionChanges = try transactionStateChanges()
        // One lookup per dirty address: indices stay valid until an entry is removed, so the
        // emptied entries are removed last.
        var emptied: [Address] = []
        for address in open.dirty {
            guard let index = entries.index(forKey: address) else { continue }
            // Deletions first: a name deleted and then written again ends with its value.
            for name in entries.values[index].deletedNames {
                stateChanges.append(.init(address: address, name: name, value: nil))
            }
            let names = entries.values[index].state.names
            for cell in names.indices where entries.values[index].isChanged(cell) {
                let bytes = try entries.values[index].state.cells[cell].bytes()
                stateChanges.append(.init(address: address, name: names[cell], value: bytes))
                entries.values[index].state.keepBytes(bytes, at: cell)
            }
            if entries.values[index].state.isEmpty {
                emptied.append(address)
            } else {
                entries.values[index].changed = 0
                entries.values[index].deletedNames = []
            }
        }
        for address in emptied { entries[address] = nil }
        let items = open.outbox
        if !items.isEmpty { unacknowledged[epoch] = (items, items.count) }
        let record = EpochRecord(
            partition: partition, epoch: epoch, isSnapshot: false, states: stateChanges, transactions: transactionChanges,
            timersAdded: open.timersAdded.compactMap { timers.timers[$0] }, timersRemoved: timersRemovedToRecord(),
            positions: positions, applied: applied, sent: sent, outbox: items.isEmpty ? [] : [(epoch, items)],
            delivered: open.deliveriesToRecord, completedThrough: completedThrough, nextTimerSequence: nextTimerSequence,
            outputFloors: floors.toRecord(epoch: epoch), remoteQueues: remote.takeChanges()
        )
        flushLocalAcks()
        let acks = open.localAcks
        advanceCompletion()
        epoch += 1
        open = OpenEpoch()
        return (record, acks)
    }

    /// The timers the open epoch removed, less those it added itself (its record never has them).
    private func timersRemovedToRecord() -> [Int64] {
        guard !open.timersRemoved.isEmpty, !open.timersAdded.isEmpty else { return open.timersRemoved }
        let added = Set(open.timersAdded)
        return open.timersRemoved.filter { !added.contains($0) }
    }

    private mutating func countLocalAck(_ ack: LocalAck) {
        if open.currentAck != ack {
            flushLocalAcks()
            open.currentAck = ack
        }
        open.currentAckCount += 1
    }

    private mutating func flushLocalAcks() {
        if let currentAck = open.currentAck { open.localAcks[currentAck, default: 0] += open.currentAckCount }
        open.currentAck = nil
        open.currentAckCount = 0
    }

    /// `count` items of `epoch`'s outbox reached their destination durably.
    public mutating func acknowledge(epoch ackedEpoch: Int64, count: Int = 1) {
        guard var entry = unacknowledged[ackedEpoch] else { return }
        entry.pending -= count
        unacknowledged[ackedEpoch] = entry
        advanceCompletion()
    }

    /// The broker has `count` of `epoch`'s outputs: all the records it sent to Kafka (egress,
    /// dead letters, messages to other workers), its egress and dead-letter records at
    /// `offsets` (the highest per partition, if known). Those records are then never released
    /// again, even while messages to local partitions await acknowledgement.
    public mutating func delivered(epoch deliveredEpoch: Int64, count: Int, offsets: [OutputPartition: Int64] = [:]) {
        acknowledge(epoch: deliveredEpoch, count: count)
        floors.delivered(epoch: deliveredEpoch, at: offsets)
        if unacknowledged[deliveredEpoch]?.items.contains(where: \.isExternal) == true {
            unacknowledged[deliveredEpoch]!.items.removeAll(where: \.isExternal)
            open.deliveriesToRecord.append(deliveredEpoch)
        }
        let out = unacknowledged
        floors.advance(before: epoch) { out[$0]?.items.contains(where: \.isExternal) == true }
    }

    /// Per output partition, an offset below every egress and dead-letter record of the
    /// epochs in `unacknowledgedOutbox` (where recovery looks for those the broker has).
    public var outputFloors: [OutputPartition: Int64] { floors.offsets }

    /// The lock and coordinator entries the open epoch changed, for its checkpoint record; not
    /// those it created and removed again.
    private func transactionStateChanges() throws(StatefulFunctionError) -> [EpochRecord.TransactionStateChange] {
        var changes: [EpochRecord.TransactionStateChange] = []
        for (address, lockChanges) in open.lockChanges where locks[address] != nil || !open.newLocks.contains(address) {
            changes.append(.init(kind: .lockChanges, address: address, value: try LockChange.encoded(lockChanges)))
        }
        for address in open.dirtyCoordinators {
            let entry = coordinators[address]
            if entry == nil, open.newCoordinators.contains(address) { continue }
            changes.append(.init(kind: .coordinator, address: address, value: entry?.encoded()))
        }
        return changes
    }

    /// The whole partition as the last closed epoch left it, for a snapshot (see
    /// `PartitionImage`). Call it right after `closeEpoch`: it describes the epoch before the open one.
    public func image() -> PartitionImage {
        PartitionImage(
            partition: partition, epoch: epoch - 1, entries: entries, locks: locks, coordinators: coordinators,
            timers: timers.timers.keys.sorted().compactMap { timers.timers[$0] }, positions: positions, applied: applied,
            sent: sent, outbox: unacknowledgedOutbox, completedThrough: completedThrough, nextTimerSequence: nextTimerSequence,
            outputFloors: floors.offsets, remoteQueues: remote.queues)
    }

    /// Moves `completedThrough` over every fully acknowledged epoch before the open one.
    private mutating func advanceCompletion() {
        var next = completedThrough + 1
        while next < epoch {
            if let entry = unacknowledged[next] {
                guard entry.pending <= 0 else { break }
                unacknowledged[next] = nil
                open.completionsToRecord = true
            }
            next += 1
        }
        completedThrough = next - 1
    }

    /// Outbox items of closed epochs not yet acknowledged, oldest first: what recovery re-releases.
    public var unacknowledgedOutbox: [(epoch: Int64, items: [OutboxItem])] {
        unacknowledged.sorted { $0.key < $1.key }.map { ($0.key, $0.value.items) }
    }

    // MARK: Recovery

    /// Applies a checkpoint record during recovery; records must come in epoch order, starting
    /// with a snapshot or with the partition's first epoch.
    public mutating func restore(_ record: EpochRecord) throws {
        waitReports.forgetReported()
        if record.isSnapshot {
            entries = [:]
            timers = TimerTable()
            unacknowledged = [:]
            locks = [:]
            coordinators = [:]
            remote.queues = [:]
        }
        restoreRemoteQueues(record.remoteQueues)
        for change in record.transactions {
            switch change.kind {
            case .lock: locks[change.address] = try change.value.map(LockEntry.init(decoding:))
            case .lockChanges:
                var entry = locks[change.address] ?? LockEntry()
                for lockChange in try LockChange.decoding(change.value ?? []) {
                    guard entry.accepts(lockChange) else {
                        throw ByteReader.Malformed(description: "lock change \(lockChange) does not fit \(change.address)")
                    }
                    entry.apply(lockChange)
                }
                locks[change.address] = entry.isFree ? nil : entry
            case .coordinator: coordinators[change.address] = try change.value.map(CoordinatorEntry.init(decoding:))
            }
        }
        for change in record.states {
            var entry = entries.removeValue(forKey: change.address) ?? Entry()
            entry.state[change.name] = change.value.map(StateCell.encoded)
            if !entry.state.isEmpty { entries[change.address] = entry }
        }
        for sequence in record.timersRemoved { timers.remove(sequence) }
        for timer in record.timersAdded { timers.add(timer) }
        positions = record.positions
        applied = record.applied
        sent = record.sent
        for (epoch, items) in record.outbox { unacknowledged[epoch] = (items, items.count) }
        for epoch in record.delivered {
            guard var entry = unacknowledged[epoch] else { continue }
            entry.items.removeAll(where: \.isExternal)
            unacknowledged[epoch] = (entry.items, entry.items.count)
        }
        completedThrough = max(completedThrough, record.completedThrough)
        unacknowledged = unacknowledged.filter { $0.key > completedThrough }
        floors.restore(record.outputFloors, completedThrough: completedThrough)
        nextTimerSequence = record.nextTimerSequence
        epoch = record.epoch + 1
        open = OpenEpoch()
    }
}
