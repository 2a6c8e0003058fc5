import Foundation
import Greeter
import Kafka
import StatefulFunctions
import Testing
import Worker

extension WorkerSuites {
    /// Greeter workers as separate processes: killed with SIGKILL, or two sharing the partitions.
    @Suite(.serialized) struct WorkerProcessTests {
        static func arguments(_ id: String) -> [String] {
            ["--application-id", id, "--partitions", "4", "--greeter-requests", "\(id)-requests",
             "--greeter-greetings", "\(id)-greetings", "--log-level", "info"]
        }

        /// Sends the requests of `range`, round-robin over `names`.
        static func sendRequests(
            _ producer: KafkaProducer, _ id: String, names: [String], range: Range<Int>, pause: Duration = .zero
        ) async throws {
            for index in range {
                if pause > .zero { try await Task.sleep(for: pause) }
                let name = names[index % names.count]
                try await producer.send(ProducerRecord(topic: "\(id)-requests", key: name, value: #"{"name":"\#(name)"}"#))
            }
        }

        /// Each request must have changed its name's count exactly once: after dropping repeats by
        /// id, every name has greetings seen = 1...n. Repeats must be identical copies.
        static func checkExactlyOnce(_ records: [ConsumerRecord], names: [String], perName: Int) throws -> Int {
            var byID: [String: ConsumerRecord] = [:]
            var repeats = 0
            for record in records {
                let id = try #require(record.headerText(WorkerHeaders.id))
                if let earlier = byID[id] {
                    repeats += 1
                    #expect(earlier.value == record.value, "a repeat is an identical copy")
                }
                byID[id] = record
            }
            let greetings = try byID.values.map { try Message(bytes: $0.value ?? []).decode(Greeter.Greeting.self) }
            let seen = Dictionary(grouping: greetings, by: \.name).mapValues { $0.map(\.seen).sorted() }
            for name in names {
                #expect(seen[name] == Array(1...perName), "\(name): each request counted once")
            }
            return repeats
        }

        /// A new application id with its greetings topic and a reader on it.
        static func greeterScenario(_ prefix: String) async throws -> (id: String, greetings: TopicReader) {
            let id = Broker.uniqueID(prefix)
            try await KafkaAdmin(configuration: .init(bootstrapServers: Broker.bootstrap)).createTopic("\(id)-greetings", partitions: 1)
            return (id, try TopicReader("\(id)-greetings", partitions: 1))
        }

        @Test func aKilledWorkerIsReplacedWithoutLosingOrRepeatingEffects() async throws {
            let (id, greetings) = try await Self.greeterScenario("crash")
            let names = (0..<20).map { "name\($0)" }
            let first = try WorkerProcess(Self.arguments(id), name: "crash-first")
            let producer = try Broker.producer()

            // Requests keep flowing while the worker is killed and replaced.
            let stream = Task { try await Self.sendRequests(producer, id, names: names, range: 0..<300, pause: .milliseconds(10)) }
            try await greetings.wait("the first greetings") { $0.count >= 60 }
            await first.kill()  // SIGKILL in the middle of the stream
            let second = try WorkerProcess(Self.arguments(id), name: "crash-second")
            try await stream.value

            try await greetings.wait(seconds: 120, "300 distinct greetings") { records in
                Set(records.compactMap { $0.headerText(WorkerHeaders.id) }).count >= 300
            }
            try await Task.sleep(for: .seconds(1))
            let repeats = try Self.checkExactlyOnce(greetings.records, names: names, perName: 15)
            print("crash test: \(greetings.records.count) greeting records, \(repeats) repeats dropped by id")
            await second.terminate()
            #expect(second.process.terminationStatus == 0, "SIGTERM stops the worker cleanly")
            try await producer.shutdown()
            await greetings.close()
        }

        @Test func twoWorkersSplitThePartitionsAndOneTakesOverWhenTheOtherStops() async throws {
            let (id, greetings) = try await Self.greeterScenario("pair")
            let names = (0..<10).map { "user\($0)" }
            let a = try WorkerProcess(Self.arguments(id), name: "pair-a")
            // One join at a time: the local broker can leave a group without a leader when two
            // first joins overlap (docs/local-broker.md).
            try await eventually("the first worker to run its partitions") { a.log.contains("partition running") }
            let b = try WorkerProcess(Self.arguments(id), name: "pair-b")
            try await eventually("the second worker to run its share") { b.log.contains("partition running") }
            let producer = try Broker.producer()

            try await Self.sendRequests(producer, id, names: names, range: 0..<100)
            try await greetings.wait(seconds: 90, "100 greetings") { $0.count >= 100 }
            let internalTopic = "\(id)-internal["
            let owners = [a, b].map { worker in
                worker.log.split(separator: "\n").last { $0.contains("partitions assigned") && $0.contains(internalTopic) } ?? ""
            }
            #expect(owners.allSatisfy { !$0.isEmpty }, "both workers own partitions: \(owners)")

            await b.terminate()
            #expect(b.process.terminationStatus == 0)
            try await Self.sendRequests(producer, id, names: names, range: 100..<200)
            try await greetings.wait(seconds: 90, "200 distinct greetings") { records in
                Set(records.compactMap { $0.headerText(WorkerHeaders.id) }).count >= 200
            }
            let repeats = try Self.checkExactlyOnce(greetings.records, names: names, perName: 20)
            print("two workers: \(repeats) repeats dropped by id")
            let lastAssignment = a.log.split(separator: "\n").last { $0.contains("partitions assigned") && $0.contains(internalTopic) } ?? ""
            #expect((0..<4).allSatisfy { lastAssignment.contains("\(id)-internal[\($0)]") }, "the survivor owns every partition")
            await a.terminate()
            try await producer.shutdown()
            await greetings.close()
        }

        @Test(arguments: ["--max-transactions", "--max-buffered", "--partitions"])
        func aLimitBelowOneIsRefusedWithAClearError(option: String) async throws {
            let worker = try WorkerProcess([option, "0"], name: "refused")
            try await eventually("the worker to refuse \(option) 0", seconds: 30) { !worker.process.isRunning }
            #expect(worker.process.terminationStatus != 0)
            #expect(worker.log.contains("\(option) must be at least 1, got 0"), "\(worker.log)")
        }
    }
}
