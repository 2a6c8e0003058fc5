import StatefulFunctions

/// Binary encodings of what the runtime writes to Kafka: checkpoint records and envelopes.
/// Decoding never traps on malformed bytes; it throws `ByteReader.Malformed`.
extension ByteWriter {
    mutating func write(_ address: Address) {
        write(address.type.description)
        write(address.id)
    }

    mutating func write(optional address: Address?) {
        write(address != nil)
        if let address { write(address) }
    }

    mutating func write(_ id: MessageID) {
        write(id.partition)
        write(id.epoch)
        write(id.index)
    }

    mutating func write(_ envelope: Envelope) {
        write(envelope.id)
        write(envelope.sequence)
        write(envelope.target)
        write(optional: envelope.source)
        write(envelope.payload)
        write(envelope.isSignal)
    }

    mutating func write(_ record: EgressRecord) {
        write(record.topic)
        write(optional: record.key)
        write(optional: record.value)
        write(record.headers.count)
        for header in record.headers {
            write(header.key)
            write(header.value)
        }
    }

    mutating func write(_ reason: DeadLetterReason) {
        switch reason {
        case .missingID: write(0)
        case .undecodable(let why): write(1); write(why)
        case .tooLarge(let bytes, let limit): write(2); write(bytes); write(limit)
        case .unknownFunctionType(let type): write(3); write(type.description)
        case .rejected(let why, let code): write(4); write(why); write(optional: code)
        case .noIngressBinding(let topic): write(5); write(topic)
        case .remoteCallFailed(let why): write(6); write(why)
        }
    }

    mutating func write(_ item: OutboxItem) {
        switch item {
        case .envelope(let envelope, let target):
            write(0)
            write(envelope)
            write(target)
        case .egress(let record, let id):
            write(1)
            write(record)
            write(id)
        case .deadLetter(let letter, let id):
            write(2)
            write(letter.reason)
            write(letter.origin)
            write(optional: letter.key)
            write(optional: letter.value)
            write(id)
        }
    }

    mutating func write(_ timer: PendingTimer) {
        write(timer.sequence)
        write(timer.due)
        write(timer.sender)
        write(timer.target)
        write(timer.payload)
        write(optional: timer.cancellationToken)
    }
}

extension ByteReader {
    mutating func readAddress() throws(Malformed) -> Address {
        let typeText = try readString()
        guard let type = try? TypeName(parsing: typeText) else { throw Malformed(description: "bad type name \(typeText)") }
        return Address(type, try readString())
    }

    mutating func readOptionalAddress() throws(Malformed) -> Address? { try readBool() ? try readAddress() : nil }

    mutating func readMessageID() throws(Malformed) -> MessageID {
        MessageID(partition: try readInt32(), epoch: try readInt64(), index: try readInt32())
    }

    mutating func readEnvelope() throws(Malformed) -> Envelope {
        Envelope(id: try readMessageID(), sequence: try readInt64(), target: try readAddress(), source: try readOptionalAddress(),
                 payload: try readPayload(), isSignal: try readBool())
    }

    mutating func readEgressRecord() throws(Malformed) -> EgressRecord {
        let topic = try readString()
        let key = try readOptionalBytes()
        let value = try readOptionalBytes()
        var headers: [RecordHeader] = []
        for _ in 0..<(try readCount()) { headers.append(RecordHeader(key: try readString(), value: try readBytes())) }
        return EgressRecord(topic: topic, key: key, value: value, headers: headers)
    }

    mutating func readDeadLetterReason() throws(Malformed) -> DeadLetterReason {
        switch try readInt() {
        case 0: return .missingID
        case 1: return .undecodable(try readString())
        case 2: return .tooLarge(bytes: try readInt(), limit: try readInt())
        case 3:
            let text = try readString()
            guard let type = try? TypeName(parsing: text) else { throw Malformed(description: "bad type name \(text)") }
            return .unknownFunctionType(type)
        case 4: return .rejected(try readString(), code: try readOptionalString())
        case 5: return .noIngressBinding(topic: try readString())
        case 6: return .remoteCallFailed(try readString())
        case let tag: throw Malformed(description: "unknown dead-letter reason \(tag)")
        }
    }

    mutating func readOutboxItem() throws(Malformed) -> OutboxItem {
        switch try readInt() {
        case 0: return .envelope(try readEnvelope(), targetPartition: try readInt32())
        case 1: return .egress(try readEgressRecord(), id: try readMessageID())
        case 2:
            let letter = DeadLetter(reason: try readDeadLetterReason(), origin: try readString(),
                                    key: try readOptionalBytes(), value: try readOptionalBytes())
            return .deadLetter(letter, id: try readMessageID())
        case let tag: throw Malformed(description: "unknown outbox item \(tag)")
        }
    }

    mutating func readTimer() throws(Malformed) -> PendingTimer {
        PendingTimer(sequence: try readInt64(), due: try readInt64(), sender: try readAddress(), target: try readAddress(),
                     payload: try readPayload(), cancellationToken: try readOptionalString())
    }
}

extension Envelope {
    public func encoded() -> [UInt8] {
        let size = if case .message(let message) = payload { message.payload.count } else { 64 }
        var writer = ByteWriter(capacity: 64 + size)
        writer.write(self)
        return writer.bytes
    }

    public init(decoding bytes: [UInt8]) throws {
        var reader = ByteReader(bytes)
        self = try reader.readEnvelope()
    }
}

extension EpochRecord {
    static let formatVersion = 10

    public func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: 1_024)
        writer.write(Self.formatVersion)
        writer.write(partition)
        writer.write(epoch)
        writer.write(isSnapshot)
        writer.write(states.count)
        for change in states {
            writer.write(change.address)
            writer.write(change.name)
            writer.write(optional: change.value)
        }
        writer.write(transactions.count)
        for change in transactions {
            writer.write(change.kind.rawValue)
            writer.write(change.address)
            writer.write(optional: change.value)
        }
        writer.write(timersAdded.count)
        for timer in timersAdded { writer.write(timer) }
        writer.write(timersRemoved.count)
        for sequence in timersRemoved { writer.write(sequence) }
        writer.write(positions.count)
        for (topic, offset) in positions.sorted(by: { $0.key < $1.key }) {
            writer.write(topic)
            writer.write(offset)
        }
        writer.write(applied.count)
        for (sender, mark) in applied.sorted(by: { $0.key < $1.key }) {
            writer.write(sender)
            writer.write(mark)
        }
        writer.write(sent.count)
        for (receiver, sequence) in sent.sorted(by: { $0.key < $1.key }) {
            writer.write(receiver)
            writer.write(sequence)
        }
        writer.write(outbox.count)
        for (epoch, items) in outbox {
            writer.write(epoch)
            writer.write(items.count)
            for item in items { writer.write(item) }
        }
        writer.write(delivered.count)
        for epoch in delivered { writer.write(epoch) }
        writer.write(completedThrough)
        writer.write(nextTimerSequence)
        writer.write(outputFloors.count)
        for (output, offset) in outputFloors.sorted(by: { ($0.key.topic, $0.key.partition) < ($1.key.topic, $1.key.partition) }) {
            writer.write(output.topic)
            writer.write(output.partition)
            writer.write(offset)
        }
        writer.write(lineage)
        writer.write(remoteQueues.count)
        for change in remoteQueues { writer.write(change) }
        return writer.bytes
    }

    public init(decoding bytes: [UInt8]) throws {
        var reader = ByteReader(bytes)
        let version = try reader.readInt()
        guard version == Self.formatVersion else {
            throw ByteReader.Malformed(description: "checkpoint format \(version), expected \(Self.formatVersion)")
        }
        partition = try reader.readInt32()
        epoch = try reader.readInt64()
        isSnapshot = try reader.readBool()
        states = []
        for _ in 0..<(try reader.readCount()) {
            states.append(StateChange(address: try reader.readAddress(), name: try reader.readString(),
                                      value: try reader.readOptionalBytes()))
        }
        transactions = []
        for _ in 0..<(try reader.readCount()) {
            let raw = try reader.readInt()
            guard let kind = TransactionStateChange.Kind(rawValue: raw) else {
                throw ByteReader.Malformed(description: "unknown transaction state kind \(raw)")
            }
            transactions.append(TransactionStateChange(kind: kind, address: try reader.readAddress(),
                                                       value: try reader.readOptionalBytes()))
        }
        timersAdded = []
        for _ in 0..<(try reader.readCount()) { timersAdded.append(try reader.readTimer()) }
        timersRemoved = []
        for _ in 0..<(try reader.readCount()) { timersRemoved.append(try reader.readInt64()) }
        positions = [:]
        for _ in 0..<(try reader.readCount()) { positions[try reader.readString()] = try reader.readInt64() }
        applied = [:]
        for _ in 0..<(try reader.readCount()) { applied[try reader.readInt32()] = try reader.readChannelMark() }
        sent = [:]
        for _ in 0..<(try reader.readCount()) { sent[try reader.readInt32()] = try reader.readInt64() }
        outbox = []
        for _ in 0..<(try reader.readCount()) {
            let epoch = try reader.readInt64()
            var items: [OutboxItem] = []
            for _ in 0..<(try reader.readCount()) { items.append(try reader.readOutboxItem()) }
            outbox.append((epoch, items))
        }
        delivered = []
        for _ in 0..<(try reader.readCount()) { delivered.append(try reader.readInt64()) }
        completedThrough = try reader.readInt64()
        nextTimerSequence = try reader.readInt64()
        outputFloors = [:]
        for _ in 0..<(try reader.readCount()) {
            outputFloors[OutputPartition(try reader.readString(), try reader.readInt32())] = try reader.readInt64()
        }
        lineage = try reader.readLineage()
        for _ in 0..<(try reader.readCount()) { remoteQueues.append(try reader.readRemoteQueueChange()) }
    }
}

extension ByteWriter {
    mutating func write(_ change: RemoteQueueChange) {
        write(change.address)
        write(change.removed)
        write(change.appended.count)
        for invocation in change.appended {
            write(optional: invocation.caller)
            write(invocation.message)
            write(invocation.origin)
            write(invocation.transaction)
        }
    }

    mutating func write(_ part: RemoteTransactionPart?) {
        switch part {
        case nil:
            write(0)
        case .step(let step)?:
            write(1)
            write(step.ref)
            write(step.coordinator)
            write(step.index)
            write(step.compensation)
        case .prepare(let ref)?:
            write(2)
            write(ref)
        }
    }

    mutating func write(_ mark: ChannelMark) {
        write(mark.through)
        write(mark.ahead.count)
        for sequence in mark.ahead.sorted() { write(sequence) }
    }

    mutating func write(_ lineage: EpochLineage) {
        write(lineage.incarnation)
        write(lineage.previous.incarnation)
        write(lineage.previous.epoch)
        write(lineage.dependencies.count)
        for dependency in lineage.dependencies {
            write(dependency.partition)
            write(dependency.incarnation)
            write(dependency.epoch)
        }
        write(lineage.stableThrough)
        write(lineage.stabilityOffset)
    }
}

extension ByteReader {
    mutating func readRemoteQueueChange() throws -> RemoteQueueChange {
        var change = RemoteQueueChange(address: try readAddress(), removed: try readInt(), appended: [])
        for _ in 0..<(try readCount()) {
            let caller = try readOptionalAddress()
            let message = try readMessage()
            let origin = try readOrigin()
            change.appended.append(RemoteInvocation(caller: caller, message: message, origin: origin,
                                                    transaction: try readRemoteTransactionPart()))
        }
        return change
    }

    mutating func readRemoteTransactionPart() throws(Malformed) -> RemoteTransactionPart? {
        switch try readInt() {
        case 0: return nil
        case 1: return .step(RemoteStep(ref: try readTransactionRef(), coordinator: try readAddress(), index: try readInt32(),
                                        compensation: try readBool()))
        case 2: return .prepare(try readTransactionRef())
        case let tag: throw Malformed(description: "unknown remote transaction part \(tag)")
        }
    }

    mutating func readChannelMark() throws(Malformed) -> ChannelMark {
        var mark = ChannelMark(through: try readInt64())
        for _ in 0..<(try readCount()) { mark.ahead.insert(try readInt64()) }
        return mark
    }

    mutating func readLineage() throws(Malformed) -> EpochLineage {
        var lineage = EpochLineage(incarnation: try readUInt64(),
                                   previous: EpochPosition(incarnation: try readUInt64(), epoch: try readInt64()))
        for _ in 0..<(try readCount()) {
            lineage.dependencies.append(EpochRef(partition: try readInt32(), incarnation: try readUInt64(), epoch: try readInt64()))
        }
        lineage.stableThrough = try readInt64()
        lineage.stabilityOffset = try readInt64()
        return lineage
    }
}
