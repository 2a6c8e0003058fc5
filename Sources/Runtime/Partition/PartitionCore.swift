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
    /// A record of an ingress topic partition this partition reads.
    case ingress(IngressRecord, position: InputPosition)
    /// A message from another partition: from the internal topic (with its position) or handed
    /// over in memory by a partition of the same worker (no position).
    case envelope(Envelope, position: InputPosition?)
    /// A record that cannot be read at all; it goes to the dead-letter topic.
    case malformed(IngressRecord, position: InputPosition, reason: String)
}

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
    private let partitionOf: @Sendable (Address) -> Int32
    private let maxRecordBytes: Int

    /// State per address, with the names this epoch changed.
    private var entries: [Address: Entry] = [:]
    private(set) var timers = TimerTable()
    public private(set) var positions: [String: Int64] = [:]
    public private(set) var applied: [Int32: MessageID] = [:]
    /// The open epoch.
    public private(set) var epoch: Int64 = 1
    private var nextIndex: Int32 = 0
    private var nextTimerSequence: Int64 = 0

    private struct Entry {
        var state = AddressState()
        /// Changed in the open epoch: its whole state goes into the checkpoint.
        var isDirty = false
        /// Names deleted in the open epoch (rare, so kept apart).
        var deletedNames: [String] = []
    }

    // Changes of the open epoch.
    /// Addresses changed in the open epoch, in the order they were first changed.
    private var dirty: [Address] = []
    private var timersAdded: [Int64] = []
    private var timersRemoved: [Int64] = []
    private var inputsChanged = false
    private var outbox: [OutboxItem] = []
    private var localAcks: [LocalAck: Int] = [:]
    /// Messages arrive in runs from one sender epoch: count the current run without hashing.
    private var currentAck: LocalAck?
    private var currentAckCount = 0

    /// Outbox items released but not yet acknowledged, by epoch, with the count still owed.
    private var unacknowledged: [Int64: (items: [OutboxItem], pending: Int)] = [:]
    public private(set) var completedThrough: Int64 = 0
    private var completionsToRecord = false

    /// Where an invocation came from, spelled out only for a dead letter.
    private enum Origin {
        case record(topic: String, offset: Int64)
        case function(Address?)
        case timer(Address)
    }

    private struct Pending {
        let target: Address
        let caller: Address?
        let message: Message
        let origin: Origin
    }

    private var runQueue: [Pending] = []
    private var invoking = false
    /// Reused for every invocation.
    private let context = Context()
    /// Runs of messages to one function type skip the lookup of its binding.
    private var lastBinding: FunctionBinding?

    /// When set, every invocation is appended to `invocations` (for the test harness).
    public var recordsInvocations = false
    public private(set) var invocations: [(target: Address, caller: Address?, message: Message)] = []

    public init(
        partition: Int32, application: Application, maxRecordBytes: Int = 1_000_000,
        partitionOf: @escaping @Sendable (Address) -> Int32
    ) {
        self.partition = partition
        self.application = application
        self.maxRecordBytes = maxRecordBytes
        self.partitionOf = partitionOf
    }

    // MARK: Processing

    /// Applies `input` at time `now`. Inputs already applied (by position or message id) are dropped.
    public mutating func process(_ input: PartitionInput, now: Int64) {
        switch input {
        case .ingress(let record, let position):
            guard accept(position) else { return }
            ingest(record, origin: .record(topic: position.topic, offset: position.offset), now: now)
        case .envelope(let envelope, let position):
            if let position, !accept(position) { return }
            if position == nil { countLocalAck(LocalAck(senderPartition: envelope.id.partition, epoch: envelope.id.epoch)) }
            let sender = envelope.id.partition
            if let index = applied.index(forKey: sender) {
                guard envelope.id > applied.values[index] else { return }
                applied.values[index] = envelope.id
            } else {
                applied[sender] = envelope.id
            }
            inputsChanged = true
            route(envelope.target, caller: envelope.source, message: envelope.message, origin: .function(envelope.source), now: now)
        case .malformed(let record, let position, let reason):
            guard accept(position) else { return }
            deadLetter(.undecodable(reason), origin: .record(topic: position.topic, offset: position.offset), key: record.key, value: record.value)
        }
        drain(now: now)
    }

    /// Fires the timers due at `now`.
    public mutating func fireTimers(now: Int64) {
        // Queue them all first, so they run in due order before what they cause.
        invoking = true
        for timer in timers.takeDue(now: now) {
            timersRemoved.append(timer.sequence)
            route(timer.target, caller: timer.sender, message: timer.message, origin: .timer(timer.sender), now: now)
        }
        drain(now: now)
    }

    /// When the next timer is due, if any.
    public mutating func nextTimerDue() -> Int64? { timers.nextDue() }

    public var pendingTimerCount: Int { timers.count }

    /// Reads one state value of an address (for tests and tools).
    public func state<V>(_ spec: ValueSpec<V>, of address: Address) throws(StatefulFunctionError) -> V? {
        try entries[address]?.state[spec.name]?.value(for: spec)
    }

    /// How many addresses have state.
    public var addressCount: Int { entries.count }

    private mutating func accept(_ position: InputPosition) -> Bool {
        if let next = positions[position.topic], position.offset < next { return false }
        positions[position.topic] = position.offset + 1
        inputsChanged = true
        return true
    }

    private mutating func ingest(_ record: IngressRecord, origin: Origin, now: Int64) {
        let size = (record.key?.count ?? 0) + (record.value?.count ?? 0)
        if size > maxRecordBytes {
            return deadLetter(.tooLarge(bytes: size, limit: maxRecordBytes), origin: origin, key: record.key, value: record.value)
        }
        guard let binding = application.ingresses.first(where: { $0.topic == record.topic }) else {
            return deadLetter(.noIngressBinding(topic: record.topic), origin: origin, key: record.key, value: record.value)
        }
        switch binding.route(record) {
        case .failure(let reason):
            deadLetter(reason, origin: origin, key: record.key, value: record.value)
        case .success(let (target, message)):
            route(target, caller: nil, message: message, origin: origin, now: now)
        }
    }

    /// Invokes a target of this partition at once (or queues it behind the invocation running
    /// now), or puts it in the outbox for the owning partition.
    private mutating func route(_ target: Address, caller: Address?, message: Message, origin: Origin, now: Int64) {
        let owner = partitionOf(target)
        if owner == partition {
            if invoking {
                runQueue.append(Pending(target: target, caller: caller, message: message, origin: origin))
            } else {
                invoking = true
                invoke(target, caller: caller, message: message, origin: origin, now: now)
                invoking = false
            }
        } else {
            let envelope = Envelope(id: takeID(), target: target, source: caller, message: message)
            outbox.append(.envelope(envelope, targetPartition: owner))
        }
    }

    private mutating func drain(now: Int64) {
        invoking = true
        defer { invoking = false }
        var next = 0
        while next < runQueue.count {
            let pending = runQueue[next]
            next += 1
            invoke(pending.target, caller: pending.caller, message: pending.message, origin: pending.origin, now: now)
        }
        runQueue.removeAll(keepingCapacity: true)
    }

    private mutating func invoke(_ target: Address, caller: Address?, message: Message, origin: Origin, now: Int64) {
        if recordsInvocations { invocations.append((target, caller, message)) }
        let index = entries.index(forKey: target)
        if lastBinding?.type != target.type { lastBinding = application.binding(for: target.type) }
        let outcome = application.invoke(target, binding: lastBinding, caller: caller, message: message,
                                         state: index.map { entries.values[$0].state } ?? AddressState(), now: now, in: context)
        if case .failed(let reason) = outcome {
            return deadLetter(reason, origin: origin, target: target, key: Array(target.id.utf8), value: message.payload)
        }
        if !context.writes.isEmpty {
            // Invoking touched no other entry, so `index` is still valid.
            let firstChange: Bool
            if let index {
                firstChange = Self.apply(context.writes, to: &entries.values[index])
            } else {
                var entry = Entry()
                firstChange = Self.apply(context.writes, to: &entry)
                entries[target] = entry
            }
            if firstChange { dirty.append(target) }
        }
        for effect in context.effects {
            switch effect {
            case .send(let to, let message):
                route(to, caller: target, message: message, origin: .function(target), now: now)
            case .sendDelayed(let to, let message, let delay, let token):
                nextTimerSequence += 1
                let timer = PendingTimer(sequence: nextTimerSequence, due: now + delay, sender: target, target: to,
                                         message: message, cancellationToken: token)
                if let replaced = timers.add(timer) { timersRemoved.append(replaced) }
                timersAdded.append(timer.sequence)
            case .cancelDelayed(let token):
                if let cancelled = timers.cancel(sender: target, token: token) { timersRemoved.append(cancelled.sequence) }
            case .egress(let record):
                outbox.append(.egress(record, id: takeID()))
            }
        }
    }

    /// Returns true when these are the entry's first changes in the epoch.
    private static func apply(_ writes: [StateWrite], to entry: inout Entry) -> Bool {
        let first = !entry.isDirty
        entry.isDirty = true
        for write in writes {
            entry.state[write.name] = write.cell
            if write.cell == nil, !entry.deletedNames.contains(write.name) { entry.deletedNames.append(write.name) }
        }
        return first
    }

    private mutating func deadLetter(_ reason: DeadLetterReason, origin: Origin, target: Address? = nil, key: [UInt8]?, value: [UInt8]?) {
        var text = switch origin {
        case .record(let topic, let offset): "\(topic)/\(partition)/\(offset)"
        case .function(let sender): sender?.description ?? "outside"
        case .timer(let sender): "\(sender) (delayed)"
        }
        if let target { text += " -> \(target)" }
        outbox.append(.deadLetter(DeadLetter(reason: reason, origin: text, key: key, value: value), id: takeID()))
    }

    private mutating func takeID() -> MessageID {
        defer { nextIndex += 1 }
        return MessageID(partition: partition, epoch: epoch, index: nextIndex)
    }

    // MARK: Epochs

    /// True when the open epoch has something to checkpoint.
    public var hasChanges: Bool {
        !dirty.isEmpty || !timersAdded.isEmpty || !timersRemoved.isEmpty || inputsChanged || !outbox.isEmpty
            || completionsToRecord || !localAcks.isEmpty || currentAck != nil
    }

    /// Ends the open epoch: returns its checkpoint record (the whole partition when `snapshot`)
    /// and the acknowledgements to send to local senders once the record is durable. The caller
    /// releases `record.ownOutbox` after the record is durable, and reports each delivery
    /// through `acknowledge`.
    public mutating func closeEpoch(snapshot: Bool = false) throws(StatefulFunctionError) -> (record: EpochRecord, acks: [LocalAck: Int])? {
        guard hasChanges || snapshot else { return nil }
        var stateChanges: [EpochRecord.StateChange] = []
        if snapshot {
            for (address, entry) in entries {
                for (name, cell) in entry.state.entries {
                    stateChanges.append(.init(address: address, name: name, value: try cell.bytes()))
                }
            }
        } else {
            for address in dirty {
                guard let entry = entries[address] else { continue }
                for name in entry.deletedNames {
                    stateChanges.append(.init(address: address, name: name, value: nil))
                }
                for (name, cell) in entry.state.entries {
                    stateChanges.append(.init(address: address, name: name, value: try cell.bytes()))
                }
            }
        }
        for address in dirty {
            guard let index = entries.index(forKey: address) else { continue }
            if entries.values[index].state.isEmpty {
                entries.remove(at: index)
            } else {
                entries.values[index].isDirty = false
                entries.values[index].deletedNames = []
            }
        }
        let items = outbox
        if !items.isEmpty { unacknowledged[epoch] = (items, items.count) }
        var outboxByEpoch: [(epoch: Int64, items: [OutboxItem])] = []
        if snapshot {
            outboxByEpoch = unacknowledged.sorted { $0.key < $1.key }.map { ($0.key, $0.value.items) }
        } else if !items.isEmpty {
            outboxByEpoch = [(epoch, items)]
        }
        let record = EpochRecord(
            partition: partition, epoch: epoch, isSnapshot: snapshot, states: stateChanges,
            timersAdded: (snapshot ? Array(timers.timers.keys).sorted() : timersAdded).compactMap { timers.timers[$0] },
            timersRemoved: snapshot ? [] : timersRemoved,
            positions: positions, applied: applied, outbox: outboxByEpoch,
            completedThrough: completedThrough, nextTimerSequence: nextTimerSequence
        )
        flushLocalAcks()
        let acks = localAcks
        advanceCompletion()
        epoch += 1
        nextIndex = 0
        dirty = []
        timersAdded = []
        timersRemoved = []
        inputsChanged = false
        outbox = []
        localAcks = [:]
        completionsToRecord = false
        return (record, acks)
    }

    private mutating func countLocalAck(_ ack: LocalAck) {
        if currentAck != ack {
            flushLocalAcks()
            currentAck = ack
        }
        currentAckCount += 1
    }

    private mutating func flushLocalAcks() {
        if let currentAck { localAcks[currentAck, default: 0] += currentAckCount }
        currentAck = nil
        currentAckCount = 0
    }

    /// `count` items of `epoch`'s outbox reached their destination durably.
    public mutating func acknowledge(epoch ackedEpoch: Int64, count: Int = 1) {
        guard var entry = unacknowledged[ackedEpoch] else { return }
        entry.pending -= count
        unacknowledged[ackedEpoch] = entry
        advanceCompletion()
    }

    /// Moves `completedThrough` over every fully acknowledged epoch before the open one.
    private mutating func advanceCompletion() {
        var next = completedThrough + 1
        while next < epoch {
            if let entry = unacknowledged[next] {
                guard entry.pending <= 0 else { break }
                unacknowledged[next] = nil
                completionsToRecord = true
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
    public mutating func restore(_ record: EpochRecord) {
        if record.isSnapshot {
            entries = [:]
            timers = TimerTable()
            unacknowledged = [:]
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
        for (epoch, items) in record.outbox { unacknowledged[epoch] = (items, items.count) }
        completedThrough = max(completedThrough, record.completedThrough)
        unacknowledged = unacknowledged.filter { $0.key > completedThrough }
        nextTimerSequence = record.nextTimerSequence
        epoch = record.epoch + 1
        nextIndex = 0
    }
}
