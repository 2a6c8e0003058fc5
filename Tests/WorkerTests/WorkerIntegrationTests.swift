import Foundation
import Greeter
import Kafka
import StatefulFunctions
import Testing
import Worker

/// A relay passes a hop count along ids r0, r1, ... (spread over partitions) and writes an
/// egress record at the end; a timer function answers after a delay; forwarders send each
/// record on to one tally, which only counts (it sends nothing) and writes each count.
private enum TestApp {
    static let relay: TypeName = "test/relay"
    static let timer: TypeName = "test/timer"
    static let forward: TypeName = "test/forward"
    static let tally: TypeName = "test/tally"
    static let visits = ValueSpec<Int>("visits")
    static let count = ValueSpec<Int>("count")

    struct Hop: Codable { var remaining: Int; var trail: [String] }

    static func application(id: String) -> Application {
        var app = Greeter.application(requestsTopic: "\(id)-requests", greetingsTopic: "\(id)-greetings")
        app.bind(relay, states: [visits]) { context, message in
            try context.set(visits, (try context.get(visits) ?? 0) + 1)
            var hop = try message.decode(Hop.self)
            hop.trail.append(context.address.id)
            if hop.remaining == 0 {
                context.egress(EgressRecord(topic: "\(id)-out", key: "relay", value: hop.trail.joined(separator: ",")))
            } else {
                hop.remaining -= 1
                let next = Int(context.address.id.dropFirst())! + 1
                context.send(try Message(json: hop), to: Address(relay, "r\(next)"))
            }
        }
        // "schedule" or {"delay": milliseconds}; fires once after the delay (500 ms by default).
        app.bind(timer) { context, message in
            if message.text == "\"fire\"" {
                context.egress(EgressRecord(topic: "\(id)-out", key: "timer", value: "fired"))
            } else {
                let delay = (try? message.decode([String: Int].self))?["delay"] ?? 500
                context.send(Message(text: "\"fire\""), to: context.address, after: .milliseconds(delay))
            }
        }
        app.bind(forward) { context, message in context.send(message, to: Address(tally, "total")) }
        app.bind(tally, states: [count]) { context, _ in
            let counted = (try context.get(count) ?? 0) + 1
            try context.set(count, counted)
            context.egress(EgressRecord(topic: "\(id)-out", key: "tally", value: "\(counted)"))
        }
        app.ingress(IngressBinding(topic: "\(id)-forward", type: forward, codec: .raw))
        app.ingress(IngressBinding(topic: "\(id)-relay", type: relay))
        app.ingress(IngressBinding(topic: "\(id)-timer", type: timer))
        return app
    }
}

/// Starts a worker of the test app, runs `body`, stops the worker.
private func withWorker(_ id: String, configure: (inout WorkerConfiguration) -> Void = { _ in },
                        _ body: () async throws -> Void) async throws {
    var configuration = workerConfiguration(id)
    configure(&configuration)
    let worker = InProcessWorker(TestApp.application(id: id), configuration)
    var failure: (any Error)?
    do { try await body() } catch { failure = error }
    try await worker.stop()
    if let failure { throw failure }
}

/// Runs `body` against an in-process worker of the test app, with a producer and a reader on
/// each of `outputs` (topic suffixes, created first with one partition); stops them all after.
private func withTestWorker(
    _ prefix: String, outputs: [String], configure: (inout WorkerConfiguration) -> Void = { _ in },
    _ body: (_ id: String, _ producer: KafkaProducer, _ readers: [String: TopicReader]) async throws -> Void
) async throws {
    let id = Broker.uniqueID(prefix)
    let admin = try KafkaAdmin(configuration: .init(bootstrapServers: Broker.bootstrap))
    var readers: [String: TopicReader] = [:]
    for output in outputs {
        try await admin.createTopic("\(id)-\(output)", partitions: 1)
        readers[output] = try TopicReader("\(id)-\(output)", partitions: 1)
    }
    var configuration = workerConfiguration(id)
    configure(&configuration)
    let worker = InProcessWorker(TestApp.application(id: id), configuration)
    let producer = try Broker.producer()
    var failure: (any Error)?
    do { try await body(id, producer, readers) } catch { failure = error }
    try await producer.shutdown()
    for reader in readers.values { await reader.close() }
    try await worker.stop()
    if let failure { throw failure }
}

extension WorkerSuites {
    @Suite(.serialized) struct WorkerIntegrationTests {
        @Test func greetingsFlowFromIngressThroughStateToEgress() async throws {
            try await withTestWorker("greet", outputs: ["greetings"]) { id, producer, readers in
                let greetings = readers["greetings"]!
                for name in ["ann", "ben", "ann", "cat", "ann", "ben"] {
                    try await producer.send(ProducerRecord(topic: "\(id)-requests", key: name, value: #"{"name":"\#(name)"}"#))
                }
                try await greetings.wait("six greetings") { $0.count >= 6 }
                let decoded = try greetings.records.map { try Message(bytes: $0.value ?? []).decode(Greeter.Greeting.self) }
                let seenByName = Dictionary(grouping: decoded, by: \.name).mapValues { $0.map(\.seen) }
                #expect(seenByName == ["ann": [1, 2, 3], "ben": [1, 2], "cat": [1]])
                let ids = greetings.records.compactMap { $0.headerText(WorkerHeaders.id) }
                #expect(Set(ids).count == 6, "each egress record carries its own stable id")
            }
        }

        @Test func aChainOfFunctionsCrossesPartitions() async throws {
            try await withTestWorker("chain", outputs: ["out"]) { id, producer, readers in
                let out = readers["out"]!
                try await producer.send(ProducerRecord(topic: "\(id)-relay", key: "r0", value: #"{"remaining":9,"trail":[]}"#))
                try await out.wait("the end of the chain") { !$0.isEmpty }
                #expect(out.records.map(\.valueText) == [(0...9).map { "r\($0)" }.joined(separator: ",")])
                let partitions = Set((0...9).map { Murmur2Partitioner.partition(forKey: "r\($0)", partitionCount: 4) })
                #expect(partitions.count > 1, "the chain really spans partitions")
            }
        }

        /// The tally's partition only receives messages from the forwarders' partitions, in
        /// memory, and fails once mid-stream before its epoch is written. The worker's other
        /// partitions start over with it and hand it again what it had not acknowledged: every
        /// record is counted exactly once.
        @Test func aPartitionThatFailsAloneGetsItsMessagesAgain() async throws {
            let tallyPartition = Murmur2Partitioner.partition(forKey: "total", partitionCount: 4)
            let fault = PartitionFault(partition: tallyPartition, afterEpochs: 20)
            try await withTestWorker("partition-fault", outputs: ["out"], configure: { $0.partitionFault = fault }) { id, producer, readers in
                let out = readers["out"]!
                for index in 0..<300 {
                    try await producer.send(ProducerRecord(topic: "\(id)-forward", key: "f\(index % 30)", value: "x"))
                    try await Task.sleep(for: .milliseconds(10))
                }
                try await out.wait("the 300th count") { $0.contains { $0.valueText == "300" } }
                try await out.waitUntilQuiet("the counts")
                #expect(fault.hasFired, "the tally's partition failed mid-stream")
                let counts = out.records.compactMap(\.valueText).compactMap(Int.init)
                #expect(Set(counts) == Set(1...300), "every record counted once, none lost")
                let idsByCount = Dictionary(grouping: out.records, by: \.valueText).mapValues { Set($0.compactMap { $0.headerText(WorkerHeaders.id) }) }
                #expect(idsByCount.values.allSatisfy { $0.count == 1 }, "a repeated count is a repeat of one egress record")
            }
        }

        @Test func aDelayedMessageFiresOnce() async throws {
            try await withTestWorker("delay", outputs: ["out"]) { id, producer, readers in
                let out = readers["out"]!
                let sent = ContinuousClock.now
                try await producer.send(ProducerRecord(topic: "\(id)-timer", key: "t1", value: #""schedule""#))
                try await out.wait("the delayed message") { !$0.isEmpty }
                #expect(ContinuousClock.now - sent >= .milliseconds(500), "not before its delay")
                try await Task.sleep(for: .seconds(1))
                #expect(out.records.map(\.valueText) == ["fired"])
            }
        }

        @Test func aTinyInputBufferPausesAndResumesWithoutLosingRecords() async throws {
            try await withTestWorker("backlog", outputs: ["greetings"], configure: { $0.maxBufferedRecordsPerPartition = 5 }) { id, producer, readers in
                let names = (0..<10).map { "n\($0)" }
                for index in 0..<500 {
                    let name = names[index % names.count]
                    try await producer.enqueue(ProducerRecord(topic: "\(id)-requests", key: name, value: #"{"name":"\#(name)"}"#))
                }
                try await producer.flush()
                try await readers["greetings"]!.wait("all 500 greetings despite pauses") { $0.count >= 500 }
                let decoded = try readers["greetings"]!.records.map { try Message(bytes: $0.value ?? []).decode(Greeter.Greeting.self) }
                #expect(Dictionary(grouping: decoded, by: \.name).mapValues { $0.map(\.seen) } == Dictionary(
                    uniqueKeysWithValues: names.map { ($0, Array(1...50)) }))
            }
        }

        @Test func aDelayedMessageSurvivesARestartAndFiresOnce() async throws {
            let id = Broker.uniqueID("timer-restart")
            try await KafkaAdmin(configuration: .init(bootstrapServers: Broker.bootstrap)).createTopic("\(id)-out", partitions: 1)
            let out = try TopicReader("\(id)-out", partitions: 1)
            let producer = try Broker.producer()
            let sent = ContinuousClock.now
            try await withWorker(id) {
                try await producer.send(ProducerRecord(topic: "\(id)-timer", key: "t1", value: #"{"delay":6000}"#))
                // Stop once the timer is in a checkpoint, well before it fires.
                let checkpoints = TopicPartition("\(id)-checkpoints", Murmur2Partitioner.partition(forKey: "t1", partitionCount: 4))
                let probe = try KafkaConsumer(configuration: .init(bootstrapServers: Broker.bootstrap))
                // The worker creates the topic; until then there is nothing to see.
                try await eventually("the timer checkpointed") { ((try? await probe.watermarks(checkpoints))?.high ?? 0) > 0 }
                await probe.close()
            }
            #expect(out.records.isEmpty, "not fired while the first worker ran")
            try await withWorker(id) {
                try await out.wait("the delayed message after the restart") { !$0.isEmpty }
                #expect(ContinuousClock.now - sent >= .seconds(6), "not before its delay")
                try await Task.sleep(for: .seconds(1))
            }
            #expect(out.records.map(\.valueText) == ["fired"], "fired exactly once")
            try await producer.shutdown()
            await out.close()
        }

        /// Snapshots are written while later epochs go on; a restart recovers from the latest
        /// one the snapshot group points at, plus the epochs after it, and counts on from there.
        @Test func aRestartRecoversFromTheLatestSnapshotAndTheEpochsAfterIt() async throws {
            let id = Broker.uniqueID("snapshot-restart")
            try await KafkaAdmin(configuration: .init(bootstrapServers: Broker.bootstrap)).createTopic("\(id)-greetings", partitions: 1)
            let greetings = try TopicReader("\(id)-greetings", partitions: 1)
            let producer = try Broker.producer()
            let names = (0..<8).map { "n\($0)" }
            // Round after round, each once the last is answered: every round is an epoch of its own.
            func greet(rounds: Int) async throws {
                for _ in 0..<rounds {
                    let answered = greetings.records.count
                    for name in names {
                        try await producer.send(ProducerRecord(topic: "\(id)-requests", key: name, value: #"{"name":"\#(name)"}"#))
                    }
                    try await greetings.wait("a round of greetings") { $0.count >= answered + names.count }
                }
            }
            let snapshotTopic = (0..<4).map { TopicPartition("\(id)-snapshots", Int32($0)) }
            try await withWorker(id, configure: { $0.snapshotEveryEpochs = 3 }) {
                try await greet(rounds: 12)
                var index = KafkaConsumerConfiguration(bootstrapServers: Broker.bootstrap)
                index.groupID = "\(id)-snapshots"
                let probe = try KafkaConsumer(configuration: index)
                try await eventually("a snapshot committed in every partition greeted") {
                    let committed = (try? await probe.committed(snapshotTopic)) ?? []
                    return committed.filter { $0.offset > 0 }.count >= Set(names.map { Murmur2Partitioner.partition(forKey: $0, partitionCount: 4) }).count
                }
                await probe.close()
            }
            try await withWorker(id) {
                try await greet(rounds: 2)
                try await greetings.waitUntilQuiet("the greetings")
            }
            let decoded = try greetings.records.map { try Message(bytes: $0.value ?? []).decode(Greeter.Greeting.self) }
            #expect(Dictionary(grouping: decoded, by: \.name).mapValues { $0.map(\.seen) }
                == Dictionary(uniqueKeysWithValues: names.map { ($0, Array(1...14)) }), "every count once, on from before the restart")
            try await producer.shutdown()
            await greetings.close()
        }

        @Test func badRecordsGoToTheDeadLetterTopicAndProcessingContinues() async throws {
            try await withTestWorker("dlq", outputs: ["greetings", "dead-letters"], configure: { $0.maxRecordBytes = 10_000 }) { id, producer, readers in
                let (greetings, deadLetters) = (readers["greetings"]!, readers["dead-letters"]!)
                try await producer.send(ProducerRecord(topic: "\(id)-requests", key: "eve", value: "not json"))
                try await producer.send(ProducerRecord(topic: "\(id)-requests", key: "eve", value: #"{"wrong":1}"#))
                try await producer.send(ProducerRecord(topic: "\(id)-requests", key: Array("eve".utf8), value: Array(repeating: 32, count: 20_000)))
                try await producer.send(ProducerRecord(topic: "\(id)-requests", key: "eve", value: #"{"name":"eve"}"#))
                try await greetings.wait("the good record's greeting") { !$0.isEmpty }
                try await deadLetters.wait("three dead letters") { $0.count >= 3 }
                #expect(deadLetters.records.compactMap { $0.headerText(WorkerHeaders.reason) } == ["undecodable", "rejected", "too-large"])
                #expect(deadLetters.records.allSatisfy { $0.headerText(WorkerHeaders.origin)?.hasPrefix("\(id)-requests/") == true })
                #expect(deadLetters.records.first?.valueText == "not json")
                #expect(greetings.records.count == 1)
            }
        }
    }
}
