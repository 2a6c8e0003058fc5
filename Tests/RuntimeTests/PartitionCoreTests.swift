import Runtime
import StatefulFunctions
import Synchronization
import Testing

/// Two partitions: ids starting with "a" live in partition 0, the rest in partition 1.
private let partitionOf: @Sendable (Address) -> Int32 = { $0.id.hasPrefix("a") ? 0 : 1 }
private let counter: TypeName = "test/counter"
private let count = ValueSpec<Int>("count")

private func application() -> Application {
    var app = Application(name: "core-test")
    app.bind(counter, states: [count]) { context, message in
        let value = (try context.get(count) ?? 0) + 1
        try context.set(count, value)
        switch message.text {
        case "forward": context.send(Message(text: "hello"), to: Address(counter, "b-\(context.address.id)"))
        case "egress": context.egress(EgressRecord(topic: "out", key: context.address.id, value: "\(value)"))
        case "later": context.send(Message(text: "late"), to: context.address, after: .seconds(5), cancellationToken: "t")
        case "reset": try context.delete(count)
        default: break
        }
    }
    app.ingress(IngressBinding(topic: "in", type: counter, codec: .raw))
    return app
}

private func ingress(_ key: String, _ value: String, offset: Int64) -> PartitionInput {
    .ingress(IngressRecord(topic: "in", key: Array(key.utf8), value: Array(value.utf8)),
             position: InputPosition(topic: "in", offset: offset))
}

@Suite struct PartitionCoreTests {
    @Test func replayedInputsAreAppliedOnce() throws {
        var core = PartitionCore(partition: 0, application: application(), partitionOf: partitionOf)
        core.process(ingress("a1", "x", offset: 0), now: 0)
        core.process(ingress("a1", "x", offset: 1), now: 0)
        core.process(ingress("a1", "x", offset: 1), now: 0)  // the same record again
        #expect(try core.state(count, of: Address(counter, "a1")) == 2)
        #expect(core.positions["in"] == 2)

        let envelope = Envelope(id: MessageID(partition: 1, epoch: 3, index: 0), sequence: 1, target: Address(counter, "a2"),
                                source: nil, message: Message(text: "x"))
        core.process(.envelope(envelope, position: nil), now: 0)
        core.process(.envelope(envelope, position: nil), now: 0)
        #expect(try core.state(count, of: Address(counter, "a2")) == 1, "a repeat from the same sender is dropped")
    }

    /// After a rebalance, a message from memory may overtake an older one still in Kafka: both
    /// apply once, also across a restore from the checkpoint.
    @Test func messagesOvertakenOnTheirChannelAreAppliedOnce() throws {
        func envelope(_ sequence: Int64) -> PartitionInput {
            .envelope(Envelope(id: MessageID(partition: 1, epoch: sequence, index: 0), sequence: sequence,
                               target: Address(counter, "a2"), source: nil, message: Message(text: "x")), position: nil)
        }
        var core = PartitionCore(partition: 0, application: application(), partitionOf: partitionOf)
        for sequence: Int64 in [1, 4, 3, 4, 1] { core.process(envelope(sequence), now: 0) }
        #expect(try core.state(count, of: Address(counter, "a2")) == 3)
        #expect(core.applied[1] == ChannelMark(through: 1, ahead: [3, 4]))

        let (record, _) = try #require(try core.closeEpoch())
        var restored = PartitionCore(partition: 0, application: application(), partitionOf: partitionOf)
        try restored.restore(try EpochRecord(decoding: record.encoded()))
        for sequence: Int64 in [3, 2, 4, 5, 2] { restored.process(envelope(sequence), now: 0) }
        #expect(try restored.state(count, of: Address(counter, "a2")) == 5, "2 and 5 are new, the rest repeats")
        #expect(restored.applied[1] == ChannelMark(through: 5))
    }

    @Test func sequenceNumbersCountPerReceiverAndSurviveRecovery() throws {
        var core = PartitionCore(partition: 0, application: application(), partitionOf: partitionOf)
        core.process(ingress("b1", "x", offset: 0), now: 0)
        core.process(ingress("b2", "x", offset: 1), now: 0)
        let (first, _) = try #require(try core.closeEpoch())
        var restored = PartitionCore(partition: 0, application: application(), partitionOf: partitionOf)
        try restored.restore(try EpochRecord(decoding: first.encoded()))
        restored.process(ingress("b3", "x", offset: 2), now: 0)
        let (second, _) = try #require(try restored.closeEpoch())
        let sequences = (first.ownOutbox + second.ownOutbox).compactMap { item -> Int64? in
            if case .envelope(let envelope, 1) = item { envelope.sequence } else { nil }
        }
        #expect(sequences == [1, 2, 3])
    }

    @Test func effectsForOtherPartitionsWaitInTheOutboxUntilTheEpochCloses() throws {
        var core = PartitionCore(partition: 0, application: application(), partitionOf: partitionOf)
        core.process(ingress("a1", "forward", offset: 0), now: 0)
        core.process(ingress("a1", "egress", offset: 1), now: 0)
        core.process(ingress("b9", "x", offset: 2), now: 0)  // belongs to partition 1: forwarded
        let (record, _) = try #require(try core.closeEpoch())
        #expect(record.epoch == 1)
        let kinds = record.ownOutbox.map { item -> String in
            switch item {
            case .envelope(let envelope, let target): "\(envelope.target.id)@\(target)"
            case .egress(let egress, _): "egress \(egress.valueText ?? "")"
            case .deadLetter: "dead letter"
            }
        }
        #expect(kinds == ["b-a1@1", "egress 2", "b9@1"])
        #expect(record.ownOutbox.map(\.id.index) == [0, 1, 2])
        #expect(try core.closeEpoch() == nil, "nothing changed since")
    }

    /// A route worked out before the record reaches its partition (as the worker's dispatcher
    /// does) is the one the partition follows, and it is the one the partition would find.
    @Test func anIngressRecordFollowsTheRouteWorkedOutAhead() throws {
        let app = application()
        func record(_ key: String, _ value: String, topic: String = "in") -> IngressRecord {
            IngressRecord(topic: topic, key: Array(key.utf8), value: Array(value.utf8))
        }
        #expect(try PartitionCore.route(record("a1", "x"), application: app, maxRecordBytes: 100).get().0 == Address(counter, "a1"))
        #expect(throws: DeadLetterReason.tooLarge(bytes: 6, limit: 5)) {
            try PartitionCore.route(record("a1", "xxxx"), application: app, maxRecordBytes: 5).get()
        }
        #expect(throws: DeadLetterReason.noIngressBinding(topic: "other")) {
            try PartitionCore.route(record("a1", "x", topic: "other"), application: app, maxRecordBytes: 100).get()
        }

        var core = PartitionCore(partition: 0, application: app, partitionOf: partitionOf)
        let routed = record("a1", "egress")
        let route = PartitionCore.route(routed, application: app, maxRecordBytes: 100)
        core.process(.ingress(routed, position: InputPosition(topic: "in", offset: 0), route: route), now: 0)
        // Routed ahead to the dead letters, the record goes there whatever the partition would find.
        core.process(.ingress(routed, position: InputPosition(topic: "in", offset: 1), route: .failure(.missingID)), now: 0)
        #expect(try core.state(count, of: Address(counter, "a1")) == 1)
        let (closed, _) = try #require(try core.closeEpoch())
        let kinds = closed.ownOutbox.map { item -> String in
            switch item {
            case .egress(let egress, _): "egress \(egress.valueText ?? "")"
            case .deadLetter: "dead letter"
            case .envelope: "envelope"
            }
        }
        #expect(kinds == ["egress 1", "dead letter"])
        #expect(core.positions["in"] == 2)
    }

    @Test func anEpochCompletesWhenAllItsOutputsAreAcknowledged() throws {
        var core = PartitionCore(partition: 0, application: application(), partitionOf: partitionOf)
        core.process(ingress("a1", "forward", offset: 0), now: 0)
        core.process(ingress("a1", "egress", offset: 1), now: 0)
        let first = try #require(try core.closeEpoch()).record
        core.process(ingress("a1", "egress", offset: 2), now: 0)
        let second = try #require(try core.closeEpoch()).record
        #expect(core.completedThrough == 0)
        core.acknowledge(epoch: second.epoch)
        #expect(core.completedThrough == 0, "epochs complete in order")
        core.acknowledge(epoch: first.epoch, count: 2)
        #expect(core.completedThrough == 2)
        #expect(core.unacknowledgedOutbox.isEmpty)
        #expect(core.hasChanges, "the completion is recorded in the next epoch")
        #expect(!core.hasChangesBesidesDeliveries, "a completion alone can wait for other changes")
        core.process(ingress("a1", "egress", offset: 3), now: 0)
        #expect(core.hasChangesBesidesDeliveries)
        let third = try #require(try core.closeEpoch()).record
        #expect(third.completedThrough == 2, "the completion rides with the next epoch that has other changes")
    }

    @Test func restoringTheLogRebuildsThePartition() throws {
        var core = PartitionCore(partition: 0, application: application(), partitionOf: partitionOf)
        var log: [EpochRecord] = []
        var snapshot: EpochRecord?
        func close(snapshot takeSnapshot: Bool = false) throws {
            if let (record, _) = try core.closeEpoch() {
                log.append(try EpochRecord(decoding: record.encoded()))  // through the wire format
            }
            if takeSnapshot { snapshot = try EpochRecord(decoding: core.image().record().encoded()) }
        }
        core.process(ingress("a1", "x", offset: 0), now: 1_000)
        core.process(ingress("a2", "later", offset: 1), now: 1_000)
        try close()
        core.process(ingress("a1", "forward", offset: 2), now: 2_000)
        try close(snapshot: true)
        core.process(ingress("a3", "x", offset: 3), now: 3_000)
        core.process(ingress("a1", "reset", offset: 4), now: 3_000)
        try close()
        core.acknowledge(epoch: 2)
        core.process(ingress("a3", "later", offset: 5), now: 3_000)
        try close()

        var restored = PartitionCore(partition: 0, application: application(), partitionOf: partitionOf)
        for record in EpochChain.records(snapshot: snapshot, log: Array(log.dropFirst())) { try restored.restore(record) }
        #expect(try restored.state(count, of: Address(counter, "a1")) == nil, "deleted state stays deleted")
        #expect(try restored.state(count, of: Address(counter, "a2")) == 1)
        #expect(try restored.state(count, of: Address(counter, "a3")) == 2)
        #expect(restored.positions == core.positions)
        #expect(restored.epoch == core.epoch)
        #expect(restored.pendingTimerCount == 2)
        #expect(restored.completedThrough == 3, "epochs 1 and 3 had no outputs; epoch 2 was acknowledged")
        #expect(restored.unacknowledgedOutbox.isEmpty)

        // The restored timers fire like the original ones.
        restored.fireTimers(now: 8_000)
        #expect(try restored.state(count, of: Address(counter, "a2")) == 2)
        #expect(try restored.state(count, of: Address(counter, "a3")) == 3)
    }

    /// An epoch writes only the values its invocations wrote; a restore applies them on the rest.
    @Test func epochsCheckpointOnlyTheValuesWritten() throws {
        let note = ValueSpec<String>("note")
        var app = Application(name: "values-test")
        app.bind(counter, states: [count, note]) { context, message in
            switch message.text {
            case "note": try context.set(note, String(repeating: "n", count: 100))
            case "drop": try context.delete(note)
            case "renote": try context.set(note, "again")
            default: try context.set(count, (try context.get(count) ?? 0) + 1)
            }
        }
        app.ingress(IngressBinding(topic: "in", type: counter, codec: .raw))
        var core = PartitionCore(partition: 0, application: app, partitionOf: partitionOf)
        var log: [EpochRecord] = []
        func close() throws -> [String] {
            let record = try EpochRecord(decoding: try #require(try core.closeEpoch()).record.encoded())
            log.append(record)
            return record.states.map { "\($0.name)=\($0.value.map { String(decoding: $0, as: UTF8.self) } ?? "deleted")" }
        }
        core.process(ingress("a1", "note", offset: 0), now: 0)
        core.process(ingress("a1", "x", offset: 1), now: 0)
        #expect(try close().map { $0.prefix(5) } == ["note=", "count"])
        core.process(ingress("a1", "x", offset: 2), now: 0)
        #expect(try close() == ["count=2"], "the unchanged note is not written again")
        core.process(ingress("a1", "drop", offset: 3), now: 0)
        core.process(ingress("a1", "renote", offset: 4), now: 0)
        #expect(try close() == ["note=deleted", "note=\"again\""], "a deletion comes before the value written after it")

        var restored = PartitionCore(partition: 0, application: app, partitionOf: partitionOf)
        for record in log { try restored.restore(record) }
        #expect(try restored.state(count, of: Address(counter, "a1")) == 2)
        #expect(try restored.state(note, of: Address(counter, "a1")) == "again")
    }

    @Test func unacknowledgedOutputsSurviveRecoveryToBeReleasedAgain() throws {
        var core = PartitionCore(partition: 0, application: application(), partitionOf: partitionOf)
        core.process(ingress("a1", "egress", offset: 0), now: 0)
        let record = try #require(try core.closeEpoch()).record
        var restored = PartitionCore(partition: 0, application: application(), partitionOf: partitionOf)
        try restored.restore(try EpochRecord(decoding: record.encoded()))
        #expect(restored.unacknowledgedOutbox.map(\.epoch) == [1])
        #expect(restored.unacknowledgedOutbox.first?.items.first?.id == MessageID(partition: 0, epoch: 1, index: 0))
    }

    /// A partition stopped before a local receiver acknowledged its messages releases them
    /// again after recovery, but not the epoch's egress records the broker already has.
    @Test func deliveredEgressIsNotReleasedAgainAfterRecovery() throws {
        for snapshot in [false, true] {
            var core = PartitionCore(partition: 0, application: application(), partitionOf: partitionOf)
            var log: [EpochRecord] = []
            core.process(ingress("a1", "forward", offset: 0), now: 0)
            core.process(ingress("a1", "egress", offset: 1), now: 0)
            let first = try #require(try core.closeEpoch()).record
            log.append(first)
            core.delivered(epoch: first.epoch, count: 1)  // the egress record; the message to partition 1 is not acknowledged
            #expect(core.hasChanges && !core.hasChangesBesidesDeliveries, "the delivery is recorded, and nothing else")
            log.append(try #require(try core.closeEpoch()).record)
            let image = snapshot ? try core.image().record() : nil

            var restored = PartitionCore(partition: 0, application: application(), partitionOf: partitionOf)
            for record in EpochChain.records(snapshot: image, log: snapshot ? [log[1]] : log) {
                try restored.restore(try EpochRecord(decoding: record.encoded()))
            }
            let items = try #require(restored.unacknowledgedOutbox.first { $0.epoch == first.epoch }).items
            #expect(items.count == 1)
            guard case .envelope(let envelope, 1) = items.first else { Issue.record("not the message: \(items)"); continue }
            #expect(envelope.target.id == "b-a1")
            restored.acknowledge(epoch: first.epoch)
            #expect(restored.unacknowledgedOutbox.isEmpty, "one acknowledgement per item released again")
        }
    }

    /// Recovery looks for outputs the broker has above each output partition's floor, so a
    /// floor must stay below the outputs of every epoch not delivered: it takes an epoch's
    /// offsets only once every earlier epoch is delivered.
    @Test func outputFloorsRiseInEpochOrderAndSurviveRecovery() throws {
        var core = PartitionCore(partition: 0, application: application(), partitionOf: partitionOf)
        var log: [EpochRecord] = []
        func close() throws -> EpochRecord {
            let record = try EpochRecord(decoding: try #require(try core.closeEpoch()).record.encoded())
            log.append(record)
            return record
        }
        let (out0, out1) = (OutputPartition("out", 0), OutputPartition("out", 1))
        for offset: Int64 in 0..<3 {
            core.process(ingress("a1", "egress", offset: offset), now: 0)
            _ = try close()
        }
        core.delivered(epoch: 2, count: 1, offsets: [out0: 10])
        #expect(core.outputFloors.isEmpty, "epoch 1 is still out: its record may lie below offset 10")
        core.delivered(epoch: 1, count: 1, offsets: [out0: 7, out1: 3])
        #expect(core.outputFloors == [out0: 10, out1: 3])
        #expect(try close().outputFloors == [out0: 10, out1: 3], "first floors are recorded at once")
        core.delivered(epoch: 3, count: 1, offsets: [out0: 12])
        #expect(core.outputFloors == [out0: 12, out1: 3])
        #expect(try close().outputFloors.isEmpty, "a rise waits for a later record")

        var restored = PartitionCore(partition: 0, application: application(), partitionOf: partitionOf)
        for record in log { try restored.restore(record) }
        #expect(restored.outputFloors == [out0: 10, out1: 3])
        #expect(restored.unacknowledgedOutbox.isEmpty)

        let snapshot = try EpochRecord(decoding: core.image().record().encoded())
        #expect(snapshot.outputFloors == [out0: 12, out1: 3], "a snapshot carries every floor")
        var fromSnapshot = PartitionCore(partition: 0, application: application(), partitionOf: partitionOf)
        try fromSnapshot.restore(snapshot)
        #expect(fromSnapshot.outputFloors == [out0: 12, out1: 3])
    }

    /// A value is encoded once, when the epoch that wrote it closes: a snapshot writes the bytes
    /// of that checkpoint again, and reading the value back does not decode them.
    @Test func aSnapshotReusesTheBytesTheCheckpointWrote() throws {
        let encodes = Atomic(0), decodes = Atomic(0)
        let tally = ValueSpec<Int>("tally", codec: StateCodec(
            encode: { value in
                encodes.add(1, ordering: .relaxed)
                return Array(String(value).utf8)
            },
            decode: { bytes in
                decodes.add(1, ordering: .relaxed)
                return Int(String(decoding: bytes, as: UTF8.self)) ?? -1
            }))
        var app = Application(name: "snapshot-test")
        app.bind(counter, states: [tally]) { context, _ in try context.set(tally, (try context.get(tally) ?? 0) + 1) }
        app.ingress(IngressBinding(topic: "in", type: counter, codec: .raw))
        func values(in record: EpochRecord) -> [String: String] {
            Dictionary(record.states.map { ($0.address.id, String(decoding: $0.value ?? [], as: UTF8.self)) }) { $1 }
        }

        var core = PartitionCore(partition: 0, application: app, partitionOf: partitionOf)
        core.process(ingress("a1", "x", offset: 0), now: 0)
        core.process(ingress("a2", "x", offset: 1), now: 0)
        let first = try #require(try core.closeEpoch()).record
        #expect(values(in: first) == ["a1": "1", "a2": "1"])
        #expect(encodes.load(ordering: .relaxed) == 2)

        core.process(ingress("a1", "x", offset: 2), now: 0)
        #expect(decodes.load(ordering: .relaxed) == 0, "the value is read as it was set")
        let second = try #require(try core.closeEpoch()).record
        #expect(values(in: second) == ["a1": "2"], "only what the epoch changed")
        #expect(encodes.load(ordering: .relaxed) == 3)

        let snapshot = try EpochRecord(decoding: core.image().record().encoded())
        #expect(values(in: snapshot) == ["a1": "2", "a2": "1"])
        #expect(encodes.load(ordering: .relaxed) == 3, "the snapshot takes the checkpoints' bytes")
        var restored = PartitionCore(partition: 0, application: app, partitionOf: partitionOf)
        try restored.restore(snapshot)
        #expect(try restored.state(tally, of: Address(counter, "a1")) == 2)
        #expect(try restored.state(tally, of: Address(counter, "a2")) == 1)
    }

    @Test func malformedBytesAreRejectedWithoutTrapping() {
        #expect(throws: (any Error).self) { try EpochRecord(decoding: [1, 2, 3]) }
        #expect(throws: (any Error).self) { try Envelope(decoding: [0xff, 0xff, 0xff]) }
        #expect(throws: (any Error).self) { try Envelope(decoding: []) }
    }

    @Test func envelopesSurviveTheWireFormat() throws {
        let envelope = Envelope(id: MessageID(partition: 3, epoch: 77, index: 5), sequence: 12, target: Address(counter, "x y"),
                                source: Address("ns/other", "s"), message: Message(text: "héllo"))
        let decoded = try Envelope(decoding: envelope.encoded())
        #expect(decoded.id == envelope.id)
        #expect(decoded.sequence == 12)
        #expect(decoded.target == envelope.target)
        #expect(decoded.source == envelope.source)
        guard case .message(let message) = decoded.payload else { Issue.record("not a message"); return }
        #expect(message == Message(text: "héllo"))
    }
}
