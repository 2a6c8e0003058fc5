import ArgumentParser
import Foundation
import Kafka
import Metrics
import MetricsEndpoint
import Prometheus
import Worker

/// The counter pipeline with metrics on (a Prometheus registry, scraped every second) and off
/// (swift-metrics' no-op handlers), on the same broker in the same run. Each round runs both on
/// fresh topics and swaps which goes first.
struct MetricsOverhead: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "metrics",
                                                    abstract: "The counter pipeline with metrics on and off.")
    @OptionGroup var common: Common
    @OptionGroup var loadOptions: LoadOptions
    @Option(help: "Rounds (medians reported).") var rounds = 6

    func run() async throws {
        let run = UUID().uuidString.prefix(6).lowercased()
        let admin = try KafkaAdmin(configuration: .init(bootstrapServers: common.bootstrap))
        let load = loadOptions.load(common)
        var results: [Bool: [Pipeline.Result]] = [:]
        for round in 1...rounds {
            for metricsOn in round % 2 == 1 ? [true, false] : [false, true] {
                let registry = PrometheusCollectorRegistry()
                let factory: any MetricsFactory = metricsOn ? MetricsEndpoint.factory(registry: registry) : NOOPMetricsHandler.instance
                // Names of their own (the broker's behaviour depends on them), not derived from the variant.
                let name = "\(run)-\(round)-\(UUID().uuidString.prefix(4).lowercased())"
                let engine = try await Bench.startCounter(common: common, admin: admin, name: name, checkpointInterval: 5,
                                                          metrics: factory)
                let scraper = Task {
                    while !Task.isCancelled {
                        if metricsOn { _ = registry.emitToBuffer() }
                        try? await Task.sleep(for: .seconds(1))
                    }
                }
                var result = try await load.measureLatency(input: engine.input, output: engine.output, round: round)
                result.throughput = try await load.measureThroughput(input: engine.input, output: engine.output, round: rounds + round)
                scraper.cancel()
                engine.task.cancel()
                try? await engine.task.value
                results[metricsOn, default: []].append(result)
                print(String(format: "round %d, metrics %@: p99 %.1f ms, %.0f/s", round, metricsOn ? "on" : "off", result.p99,
                             result.throughput))
            }
        }
        let on = Pipeline.Result.median(results[true]!), off = Pipeline.Result.median(results[false]!)
        print("")
        print("Medians of \(rounds) rounds:")
        print("| counter pipeline | throughput (records/s) | p50 (ms) | p99 (ms) |")
        print("|---|---|---|---|")
        for (name, result) in [("metrics off (baseline)", off), ("metrics on, scraped every second", on)] {
            print(String(format: "| %@ | %.0f | %.1f | %.1f |", name, result.throughput, result.p50, result.p99))
        }
        print(String(format: "throughput with metrics on / off: %.3f (target >= 0.97)", on.throughput / off.throughput))
    }
}
