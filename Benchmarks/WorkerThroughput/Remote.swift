import ArgumentParser
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Kafka
import StatefulFunctions
import Worker

/// A trivial remote function (`remote/bench-counter` of Tests/RemoteFunctions/functions.py, on the official StateFun
/// Python SDK) through one worker, against the same counter in Swift, in the same run: Kafka in,
/// Kafka out, latency at a steady rate and throughput of a burst, batch sizes, and the CPU time
/// of the Python server against this process's (engine, producer and meter).
struct Remote: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Remote Python function against the same function in Swift.")
    @OptionGroup var common: Common
    @Option(help: "Records for the throughput run.") var records = 20_000
    @Option(help: "Rate of the latency run, records/s.") var rate = 500
    @Option(help: "Seconds of the latency run.") var seconds = 5
    @Option(help: "Distinct keys.") var keys = 1_000
    @Option(help: "Rounds, each on fresh topics (medians reported).") var rounds = 3
    @Option(help: "Python with the StateFun SDK (scripts/python-sdk.sh makes it).") var python = ".build/statefun-python/bin/python"

    struct Figures {
        var latency: Pipeline.Result
        var batch = 0.0
        var pythonCPU = 0.0
        var ownCPU = 0.0
    }

    func run() async throws {
        let server = try PythonServer(python: python, script: "Tests/RemoteFunctions/functions.py")
        defer { server.stop() }
        let run = UUID().uuidString.prefix(6).lowercased()
        let admin = try KafkaAdmin(configuration: .init(bootstrapServers: common.bootstrap))
        let load = Load(bootstrap: common.bootstrap, partitions: common.partitions, keys: keys, rate: rate, seconds: seconds,
                        records: records)
        var swift: [Figures] = [], remote: [Figures] = []
        for round in 1...rounds {
            var figures: [Bool: Figures] = [:]
            // By function: true for the remote one. Alternating which goes first.
            for isRemote in round % 2 == 1 ? [true, false] : [false, true] {
                let name = "\(isRemote ? "remote" : "swift")-\(run)-\(round)"
                let input = "in-\(name)", output = "out-\(name)"
                for topic in [input, output] { try await admin.createTopic(topic, partitions: common.partitions) }
                var configuration = WorkerConfiguration(bootstrapServers: common.bootstrap, applicationID: "bench-\(name)")
                configuration.partitions = common.partitions
                configuration.outputLingerMilliseconds = EchoPipeline.lingerMilliseconds
                let application = isRemote ? remoteApplication(input: input, output: output, port: server.port)
                    : Bench.counterApplication(input: input, output: output)
                let worker = Worker(application: application, configuration: configuration, logger: Bench.quietLogger())
                let task = Task { try await worker.run() }
                var result = Figures(latency: try await load.measureLatency(input: input, output: output, round: round))
                let (served, python, own) = (try await server.served(), server.cpuSeconds(), PythonServer.cpuSeconds(of: "self"))
                result.latency.throughput = try await load.measureThroughput(input: input, output: output, round: rounds + round)
                let servedAfter = try await server.served()
                result.batch = Double(servedAfter.invocations - served.invocations) / Double(max(1, servedAfter.requests - served.requests))
                result.pythonCPU = server.cpuSeconds() - python
                result.ownCPU = PythonServer.cpuSeconds(of: "self") - own
                task.cancel()
                try? await task.value
                figures[isRemote] = result
                print(String(format: "round %d %@: p50 %.1f ms, p99 %.1f ms, %.0f/s, batch %.1f, CPU python %.1f s, own %.1f s", round,
                             isRemote ? "remote" : "swift", result.latency.p50, result.latency.p99, result.latency.throughput,
                             result.batch, result.pythonCPU, result.ownCPU))
            }
            swift.append(figures[false]!)
            remote.append(figures[true]!)
        }
        func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        print("\nMedians of \(rounds) rounds (latency at \(rate)/s for \(seconds) s; throughput of a burst of \(records); \(keys) keys):")
        print("| function | throughput (records/s) | p50 (ms) | p99 (ms) | invocations per request | CPU s: Python server | CPU s: this process |")
        print("|---|---|---|---|---|---|---|")
        for (name, figures) in [("counter in Swift (baseline)", swift), ("counter in Python, remote", remote)] {
            let latency = Pipeline.Result.median(figures.map(\.latency))
            print(String(format: "| %@ | %.0f | %.1f | %.1f | %@ | %.1f | %.1f |", name, latency.throughput, latency.p50, latency.p99,
                         name.contains("Python") ? String(format: "%.1f", median(figures.map(\.batch))) : "-",
                         median(figures.map(\.pythonCPU)), median(figures.map(\.ownCPU))))
        }
    }

    func remoteApplication(input: String, output: String, port: Int) -> Application {
        var application = Application(name: "bench-remote")
        application.bindRemote(RemoteEndpoint(functions: .type("remote/bench-counter"), urlTemplate: "http://127.0.0.1:\(port)/statefun"))
        var binding = IngressBinding(topic: input, type: "remote/bench-counter", codec: .raw)
        binding.valueTypeName = "bench/\(output)"  // the function writes to the topic its argument's type names
        application.ingress(binding)
        return application
    }
}

/// The Python server of the benchmark's remote function.
final class PythonServer: Sendable {
    private let process: Process
    let port: Int

    init(python: String, script: String) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script, "0"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        var line: [UInt8] = []
        while let byte = try output.fileHandleForReading.read(upToCount: 1)?.first, byte != UInt8(ascii: "\n") { line.append(byte) }
        guard let port = String(decoding: line, as: UTF8.self).split(separator: " ").last.flatMap({ Int($0) }) else {
            throw ValidationError("the Python server did not start (run ./scripts/python-sdk.sh)")
        }
        self.port = port
    }

    /// Requests and invocations served so far.
    func served() async throws -> (requests: Int, invocations: Int) {
        let (data, _) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/stats")!)
        let numbers = String(decoding: data, as: UTF8.self).split(separator: " ").compactMap { Int($0) }
        guard numbers.count == 2 else { throw ValidationError("unexpected stats: \(String(decoding: data, as: UTF8.self))") }
        return (numbers[0], numbers[1])
    }

    func cpuSeconds() -> Double { Self.cpuSeconds(of: "\(process.processIdentifier)") }

    /// User and system CPU time of a process (`/proc/PID/stat`), in seconds.
    static func cpuSeconds(of pid: String) -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let end = stat.lastIndex(of: ")") else { return 0 }
        let fields = stat[stat.index(after: end)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    func stop() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
