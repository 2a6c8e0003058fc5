import ArgumentParser
import Foundation
import Runtime
import StatefulFunctions

/// In-process invocation throughput of a trivial stateful function (a counter), through the
/// engine's partition logic, no broker: messages in, state updated, an epoch closed (dirty
/// state encoded for the checkpoint) every `epochSize` invocations. Printed next to the same
/// counting done on a plain dictionary in the same run.
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
    }

    func rate(_ count: Int, since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(count) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }

    func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
}
