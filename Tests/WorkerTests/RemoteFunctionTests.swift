import Foundation
import Kafka
import Runtime
import StatefulFunctions
import Synchronization
import Testing
import Worker

/// The Python functions of `Tests/RemoteFunctions/functions.py`, served by the official StateFun
/// SDK in the virtual environment `scripts/python-sdk.sh` makes.
final class PythonFunctions: Sendable {
    private let process: Process
    let port: Int

    init(egressTopic: String) throws {
        let root = FileManager.default.currentDirectoryPath
        let python = ProcessInfo.processInfo.environment["STATEFUN_PYTHON"] ?? "\(root)/.build/statefun-python/bin/python"
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw PythonMissing(description: "no Python with the StateFun SDK at \(python): run ./scripts/python-sdk.sh")
        }
        process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["\(root)/Tests/RemoteFunctions/functions.py", "0", egressTopic]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        // The first line says which port it bound.
        var line: [UInt8] = []
        while let byte = try output.fileHandleForReading.read(upToCount: 1)?.first, byte != UInt8(ascii: "\n") { line.append(byte) }
        guard let port = String(decoding: line, as: UTF8.self).split(separator: " ").last.flatMap({ Int($0) }) else {
            throw PythonMissing(description: "the Python functions did not start: \(String(decoding: line, as: UTF8.self))")
        }
        self.port = port
    }

    struct PythonMissing: Error, CustomStringConvertible { let description: String }

    func stop() async {
        kill(process.processIdentifier, SIGKILL)
        while process.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
    }

    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
}

/// An application of remote functions: its topics, its module file, a producer and a reader of
/// its egress topic and dead letters.
struct RemoteScenario {
    let id: String
    let functions: PythonFunctions
    let producer: KafkaProducer
    let out: TopicReader
    let deadLetters: TopicReader
    let modulePath: String

    static let inputs = ["counter", "relay", "reminder", "visitor", "failing"]

    static func make(_ prefix: String) async throws -> RemoteScenario {
        let id = Broker.uniqueID(prefix)
        let admin = try KafkaAdmin(configuration: .init(bootstrapServers: Broker.bootstrap))
        try await admin.createTopic("\(id)-out", partitions: 1)
        try await admin.createTopic("\(id)-dead-letters", partitions: 1)
        for input in inputs + ["saga", "tx"] { try await admin.createTopic("\(id)-\(input)", partitions: 4) }
        let functions = try PythonFunctions(egressTopic: "\(id)-out")
        let modulePath = NSTemporaryDirectory() + "\(id).yaml"
        try module(id: id, port: functions.port).write(toFile: modulePath, atomically: true, encoding: .utf8)
        return RemoteScenario(id: id, functions: functions, producer: try Broker.producer(),
                              out: try TopicReader("\(id)-out", partitions: 1),
                              deadLetters: try TopicReader("\(id)-dead-letters", partitions: 1), modulePath: modulePath)
    }

    /// One endpoint for `remote/*` (batches of at most 10, calls of at most 2 s) and an ingress
    /// topic per function, of strings.
    static func module(id: String, port: Int) -> String {
        let topics = inputs.map { """
                - topic: \(id)-\($0)
                  valueType: io.statefun.types/string
                  targets:
                    - remote/\($0)
            """ }.joined(separator: "\n")
        return """
        kind: io.statefun.endpoints.v2/http
        spec:
          functions: remote/*
          urlPathTemplate: http://127.0.0.1:\(port)/statefun
          maxNumBatchRequests: 10
          transport:
            type: io.statefun.transports.v1/async
            call: 2s
        ---
        kind: io.statefun.kafka.v1/ingress
        spec:
          id: remote/in
          address: \(Broker.bootstrap)
          consumerGroupId: \(id)
          startupPosition:
            type: earliest
          topics:
        \(topics)
        ---
        kind: io.statefun.kafka.v1/egress
        spec:
          id: remote/out
          address: \(Broker.bootstrap)
          deliverySemantic:
            type: exactly-once
            transactionTimeout: 15min

        """
    }

    /// Sends `text` to the function `function` with id `key`, as a StateFun string.
    func send(_ function: String, _ key: String, _ text: String) async throws {
        try await producer.send(ProducerRecord(topic: "\(id)-\(function)", key: Array(key.utf8),
                                               value: Message(statefunString: text).payload))
    }

    /// The egress values of `key`, in order.
    func outputs(_ key: String) -> [String] { out.records.filter { $0.keyText == key }.map(\.valueText) }

    /// Runs `body` with a new scenario, closed after it however it ends.
    static func with(_ prefix: String, _ body: (RemoteScenario) async throws -> Void) async throws {
        let scenario = try await make(prefix)
        var failure: (any Error)?
        do { try await body(scenario) } catch { failure = error }
        try await scenario.producer.shutdown()
        await scenario.out.close()
        await scenario.deadLetters.close()
        await scenario.functions.stop()
        if let failure { throw failure }
    }
}

extension WorkerSuites {
    @Suite(.serialized) struct RemoteFunctionTests {
        /// A module file's application, with one Swift function added, in this process: state,
        /// messages between Python and Swift both ways, delayed messages, expiration, a function
        /// that raises.
        @Test func pythonFunctionsRunWithStateMessagesTimersAndExpiration() async throws {
            try await RemoteScenario.with("remote") { scenario in try await runEveryFeature(scenario) }
        }

        private func runEveryFeature(_ scenario: RemoteScenario) async throws {
            var application = try ModuleFile(yaml: RemoteScenario.module(id: scenario.id, port: scenario.functions.port),
                                             source: "test module").application
            // Answers a Python function: sends what it got back to the counter of the same id.
            application.bind("swift/echo") { context, message in
                #expect(message.statefunString == "hi", "a Python string arrives as StateFun's string type")
                context.send(message, to: Address("remote/counter", context.address.id))
            }
            // A saga of two remote steps: count, then `failing` with the request's text.
            application.bindCoordinator("swift/saga", protocol: .saga) { context, message in
                let id = "g-\(context.address.id)"
                return TransactionPlan(stages: [
                    [TransactionInvocation(Address("remote/counter", id), Message(statefunString: "x"), compensation: Message(statefunString: "undo"))],
                    [TransactionInvocation(Address("remote/failing", id), Message(statefunString: message.text),
                                           compensation: Message(statefunString: "undo"))],
                ])
            } outcome: { context, outcome in
                context.egress(EgressRecord(topic: "\(scenario.id)-out", key: "saga-\(context.address.id)",
                                            value: outcome.status == .committed ? "committed" : "failed"))
            }
            application.ingress(IngressBinding(topic: "\(scenario.id)-saga", type: "swift/saga", codec: .raw))
            // 2PC over two remote functions of the same ids: the counter, and `failing` with the request's text.
            application.bindCoordinator("swift/tx", protocol: .twoPhaseCommit) { _, message in
                TransactionPlan([TransactionInvocation(Address("remote/counter", "tx"), Message(statefunString: "x")),
                                 TransactionInvocation(Address("remote/failing", "tx"), Message(statefunString: message.text))])
            } outcome: { context, outcome in
                let text = switch outcome.status {
                case .committed: "committed"
                case .failed(let failure): "failed: \(failure.code ?? "")"
                case .retryableAbort(let reason): "retry: \(reason)"
                }
                context.egress(EgressRecord(topic: "\(scenario.id)-out", key: "tx-\(context.address.id)", value: text))
            }
            application.ingress(IngressBinding(topic: "\(scenario.id)-tx", type: "swift/tx", codec: .raw))
            let worker = InProcessWorker(application, workerConfiguration(scenario.id))
            try await scenario.send("counter", "a", "x")
            try await scenario.send("counter", "a", "y")
            try await scenario.send("counter", "a", "z")
            try await scenario.send("relay", "r", "to:remote/counter:b:hello")
            try await scenario.send("relay", "r", "to:swift/echo:c:hi")
            try await scenario.send("reminder", "t", "set:kept:300")
            try await scenario.send("reminder", "t", "set:dropped:1000")
            try await scenario.send("reminder", "t", "cancel:dropped")
            try await scenario.send("visitor", "s", "visit")
            try await scenario.send("visitor", "s", "visit")
            try await scenario.send("failing", "f", "fine")
            try await scenario.send("failing", "f", "boom")
            for outcome in ["ok", "boom"] {
                try await scenario.producer.send(ProducerRecord(topic: "\(scenario.id)-saga", key: outcome, value: outcome))
            }
            for outcome in ["ok", "boom", "again"] {
                try await scenario.producer.send(ProducerRecord(topic: "\(scenario.id)-tx", key: outcome, value: outcome))
            }
            try await scenario.out.wait("the first outputs") { records in
                let values = Set(records.map(\.valueText))
                return ["a=3", "b=1 from remote/relay/r", "c=1 from swift/echo/c", "fired:kept", "visits=2", "ok:fine", "committed",
                        "failed"].allSatisfy(values.contains) && records.count { $0.keyText.hasPrefix("tx-") } == 3
            }
            // A batch that fails fails whole: "after" goes once "boom" is a dead letter.
            try await scenario.deadLetters.wait("the failed invocation's dead letter") { !$0.isEmpty }
            try await scenario.send("failing", "f", "after")
            // The visitor count expires 1.5 s after it was written.
            try await Task.sleep(for: .seconds(2.5))
            try await scenario.send("visitor", "s", "visit")
            try await scenario.out.wait("the visit after expiry") { $0.count { $0.keyText == "s" } == 3 }
            try await Task.sleep(for: .seconds(1))
            #expect(scenario.outputs("a") == ["a=1", "a=2", "a=3"], "state carries across invocations")
            #expect(scenario.outputs("b") == ["b=1 from remote/relay/r"], "a Python function's message reaches another, with its caller")
            #expect(scenario.outputs("c") == ["c=1 from swift/echo/c"], "Python to Swift and back")
            #expect(scenario.outputs("t") == ["set:kept:300", "set:dropped:1000", "cancel:dropped", "fired:kept"],
                    "a delayed message arrives; a cancelled one never does")
            #expect(scenario.outputs("s") == ["visits=1", "visits=2", "visits=1"], "the count expired after its time")
            #expect(scenario.outputs("f") == ["ok:fine", "ok:after"], "a failed call does not stop the address")
            #expect(scenario.outputs("saga-ok") == ["committed"], "remote saga steps")
            #expect(scenario.outputs("g-ok") == ["g-ok=1 from swift/saga/ok", "ok:ok"])
            #expect(scenario.outputs("saga-boom") == ["failed"], "a step whose endpoint fails fails the saga")
            #expect(scenario.outputs("g-boom") == ["g-boom=1 from swift/saga/boom", "g-boom=2 from swift/saga/boom"],
                    "the completed step is compensated (the counter counts its compensation too)")
            #expect(scenario.outputs("tx-ok") == ["committed"] && scenario.outputs("tx-again") == ["committed"],
                    "2PC over remote participants")
            #expect(scenario.outputs("tx-boom") == ["failed: remote-call-failed"], "a participant whose endpoint fails votes no")
            // The committed transactions' effects once each, in either order; the aborted one's count is dropped.
            let counts = scenario.outputs("tx").filter { $0.hasPrefix("tx=") }
            #expect(counts == ["tx=1 from swift/tx/ok", "tx=2 from swift/tx/again"]
                    || counts == ["tx=1 from swift/tx/again", "tx=2 from swift/tx/ok"], "\(counts)")
            #expect(scenario.outputs("tx").count == 4 && Set(scenario.outputs("tx")).isSuperset(of: ["ok:ok", "ok:again"]))
            let letter = try #require(scenario.deadLetters.records.first)
            #expect(letter.headerText(WorkerHeaders.reason) == "remote-call-failed")
            #expect(letter.keyText == "f" && letter.valueText == "\n\u{4}boom", "the invocation's argument, as sent")
            #expect(letter.headerText(WorkerHeaders.reasonText)?.contains("HTTP status 500") == true)
            #expect(scenario.deadLetters.records.count == 1)
            try await worker.stop()
        }

        /// `statefun-worker --module` killed with SIGKILL while batches are in flight: its
        /// replacement sends them again and applies each answer once.
        @Test func aWorkerKilledMidStreamAppliesEveryRemoteInvocationOnce() async throws {
            try await RemoteScenario.with("remote-crash") { scenario in
                let arguments = ["--module", scenario.modulePath, "--application-id", scenario.id, "--partitions", "4"]
                let first = try WorkerProcess(arguments, name: "remote-crash-first")
                let keys = (0..<20).map { "k\($0)" }, rounds = 20
                let sender = Task {
                    for round in 1...rounds {
                        for key in keys { try await scenario.send("counter", key, "\(round)") }
                        try await Task.sleep(for: .milliseconds(50))
                    }
                }
                try await scenario.out.wait("a third of the outputs") { $0.count >= keys.count * rounds / 3 }
                await first.kill()
                let second = try WorkerProcess(arguments, name: "remote-crash-second")
                try await sender.value
                try await scenario.out.wait(seconds: 120, "every invocation's output") { records in
                    Set(records.compactMap { $0.headerText(WorkerHeaders.id) }).count >= keys.count * rounds
                }
                try await Task.sleep(for: .seconds(2))
                var repeats = 0
                for key in keys {
                    var byID: [String: String] = [:]
                    var values: [String] = []
                    for record in scenario.out.records where record.keyText == key {
                        let id = try #require(record.headerText(WorkerHeaders.id))
                        if let seen = byID[id] {
                            #expect(seen == record.valueText, "a repeated record is a copy of one output")
                            repeats += 1
                        } else {
                            byID[id] = record.valueText
                            values.append(record.valueText)
                        }
                    }
                    #expect(values == (1...rounds).map { "\(key)=\($0)" }, "each invocation applied once, in order")
                }
                #expect(scenario.deadLetters.records.isEmpty)
                print("remote crash: \(repeats) repeated output records")
                await second.terminate()
                #expect(second.process.terminationStatus == 0, "SIGTERM stops the worker cleanly")
            }
        }
    }
}
