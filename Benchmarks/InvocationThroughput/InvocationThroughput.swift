import ArgumentParser
import Foundation
import Runtime
import StatefulFunctions
import YCSB

/// In-process invocation throughput of a trivial stateful function (a counter), through the
/// engine's partition logic, no broker: messages in, state updated, an epoch closed (dirty
/// state encoded for the checkpoint) every `epochSize` invocations. Printed next to the same
/// counting done on a plain dictionary in the same run.
///
/// Then YCSB requests as the worker gets them (JSON ingress records), on one partition with
/// 10,000 accounts, epochs closed and their records encoded every `epochSize` requests: 2PC
/// and saga transfers, next to single-account updates, the same application's request without
/// a transaction.
///
/// Then the JSON of messages: a YCSB request and its response, each encoded and decoded
/// through `Message` (the SDK's codec), next to Foundation's `JSONEncoder` (sorted keys) and
/// `JSONDecoder` doing the same.
@main
struct InvocationThroughput: ParsableCommand {
    @Option(help: "Invocations per run.") var invocations = 2_000_000
    @Option(help: "Distinct addresses.") var addresses = 10_000
    @Option(help: "Invocations per epoch.") var epochSize = 1_000
    @Option(help: "Runs (median reported).") var rounds = 5

    func run() throws {
        let counter: TypeName = "bench/counter"
        let count = ValueSpec<Int>("count")
        var app = Application(name: "bench")
        app.bind(counter, states: [count]) { context, _ in
            try context.set(count, (try context.get(count) ?? 0) + 1)
        }
        // Locals: reading the option wrappers in the loop would be measured too.
        let (invocations, addresses, epochSize) = (invocations, addresses, epochSize)
        let targets = (0..<addresses).map { Address(counter, "id-\($0)") }
        let message = Message(text: "{}")

        var engineRates: [Double] = [], baselineRates: [Double] = []
        for _ in 0..<rounds {
            var core = PartitionCore(partition: 0, application: app, partitionOf: { _ in 0 })
            let start = ContinuousClock.now
            for index in 0..<invocations {
                let envelope = Envelope(id: MessageID(partition: 1, epoch: 1, index: Int32(index)), sequence: Int64(index) + 1, target: targets[index % addresses],
                                        source: nil, message: message)
                core.process(.envelope(envelope, position: nil), now: 0)
                if index % epochSize == epochSize - 1 { _ = try core.closeEpoch() }
            }
            engineRates.append(rate(invocations, since: start))
            let counted = try core.state(count, of: targets[0])
            precondition(counted == invocations / addresses, "the engine lost or repeated invocations")

            var plain: [Address: Int] = [:]
            let baselineStart = ContinuousClock.now
            for index in 0..<invocations { plain[targets[index % addresses], default: 0] += 1 }
            baselineRates.append(rate(invocations, since: baselineStart))
            precondition(plain[targets[0]] == invocations / addresses)
        }
        let engine = median(engineRates), baseline = median(baselineRates)
        print("| measure | invocations/s | range |")
        print("|---|---|---|")
        print(String(format: "| engine: counter function, epochs of %d | %.0f | %.0f-%.0f |", epochSize, engine,
                     engineRates.min()!, engineRates.max()!))
        print(String(format: "| baseline: dictionary increment | %.0f | %.0f-%.0f |", baseline, baselineRates.min()!, baselineRates.max()!))
        print(String(format: "engine / baseline: %.3f; target 1,000,000/s on one core: %@", engine / baseline,
                     engine >= 1_000_000 ? "met" : "NOT met"))
        try transfers()
        try json()
    }

    /// Round trips per second of a transfer request and its response through `Message`'s JSON
    /// and through Foundation's coders, taking turns in every round.
    func json() throws {
        let request = YCSB.Request(request_id: "run-12345", op: "transfer", from: "user42", to: "user4711", amount: 17, protocol: "2pc")
        let response = YCSB.Response(request_id: "run-12345", op: "read", status: 200,
                                     record: YCSB.Record(balance: 10_000, fields: ["field0": "value0", "field1": "value1"]))
        let encoder = JSONEncoder(), decoder = JSONDecoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let trips = invocations / 20
        var sdk: [Double] = [], foundation: [Double] = []
        for _ in 0..<rounds {
            var start = ContinuousClock.now
            for _ in 0..<trips {
                let request = try Message(bytes: try Message(json: request).payload).decode(YCSB.Request.self)
                let response = try Message(bytes: try Message(json: response).payload).decode(YCSB.Response.self)
                precondition(request.amount == 17 && response.record?.balance == 10_000)
            }
            sdk.append(rate(trips, since: start))
            start = ContinuousClock.now
            for _ in 0..<trips {
                let request = try decoder.decode(YCSB.Request.self, from: try encoder.encode(request))
                let response = try decoder.decode(YCSB.Response.self, from: try encoder.encode(response))
                precondition(request.amount == 17 && response.record?.balance == 10_000)
            }
            foundation.append(rate(trips, since: start))
        }
        print("")
        print("| JSON, a transfer request and a read's response, encoded and decoded | round trips/s | range |")
        print("|---|---|---|")
        print(String(format: "| Message (the SDK's JSONCodec) | %.0f | %.0f-%.0f |", median(sdk), sdk.min()!, sdk.max()!))
        print(String(format: "| baseline: Foundation's JSONEncoder and JSONDecoder | %.0f | %.0f-%.0f |", median(foundation),
                     foundation.min()!, foundation.max()!))
        print(String(format: "Message / Foundation: %.2f", median(sdk) / median(foundation)))
    }

    /// YCSB requests per second through one partition: 2PC transfers, saga transfers and
    /// updates, each kind in its own run, the kinds taking turns in every round.
    func transfers() throws {
        let kinds = ["2pc", "saga", "update"]
        let requests = invocations / 20
        var rates: [String: [Double]] = [:]
        for _ in 0..<rounds {
            for kind in kinds {
                var core = PartitionCore(partition: 0, application: YCSB.application(), partitionOf: { _ in 0 })
                var offset: Int64 = 0
                // As the worker does: each record processed, and every `epochSize` records an epoch closed
                // and its record encoded; every output then counts as delivered at once.
                func feed(_ request: (key: [UInt8], value: [UInt8])) throws {
                    let record = IngressRecord(topic: YCSB.requestsTopic, key: request.key, value: request.value)
                    core.process(.ingress(record, position: InputPosition(topic: YCSB.requestsTopic, offset: offset)), now: 0)
                    offset += 1
                    guard offset % Int64(epochSize) == 0, let (closed, _) = try core.closeEpoch() else { return }
                    _ = closed.encoded()
                    core.acknowledge(epoch: closed.epoch, count: closed.ownOutbox.count)
                }
                let encoder = JSONEncoder()
                func encoded(_ request: YCSB.Request) throws -> (key: [UInt8], value: [UInt8]) {
                    (Array(request.recordKey.utf8), Array(try encoder.encode(request)))
                }
                for key in 0..<10_000 { try feed(try encoded(YCSB.Request(request_id: "load-\(key)", op: "insert", key: "user\(key)"))) }
                // Encoded beforehand: the client's encoding is not the engine's work.
                let batch = try (0..<requests).map { index in
                    let from = index * 7_919 % 10_000, to = (from + 1 + index % 9_999) % 10_000
                    return try encoded(kind == "update"
                        ? YCSB.Request(request_id: "r\(index)", op: "update", key: "user\(from)", fields: ["field0": "v\(index)"])
                        : YCSB.Request(request_id: "r\(index)", op: "transfer", from: "user\(from)", to: "user\(to)", amount: 1,
                                       protocol: kind))
                }
                let start = ContinuousClock.now
                for request in batch { try feed(request) }
                rates[kind, default: []].append(rate(requests, since: start))
                precondition(core.busyCoordinatorCount == 0 && core.lockedAddressCount == 0, "a transfer did not finish")
            }
        }
        print("")
        print("| YCSB request, 1 partition, 10,000 accounts | requests/s | range |")
        print("|---|---|---|")
        for kind in kinds {
            let name = kind == "update" ? "update (baseline: no transaction)" : "transfer, \(kind)"
            print(String(format: "| %@ | %.0f | %.0f-%.0f |", name, median(rates[kind]!), rates[kind]!.min()!, rates[kind]!.max()!))
        }
        let update = median(rates["update"]!)
        print(String(format: "2PC / update: %.3f; saga / update: %.3f", median(rates["2pc"]!) / update, median(rates["saga"]!) / update))
    }

    func rate(_ count: Int, since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(count) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }

    func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
}
