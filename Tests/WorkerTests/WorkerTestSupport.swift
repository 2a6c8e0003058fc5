import Foundation
import Kafka
import Logging
import Runtime
import ServiceLifecycle
import StatefulFunctions
import Synchronization
import Testing
import Worker

/// The suites that run workers. They share the broker and the machine's two cores, and a
/// worker starved of CPU misses its group's deadlines, so they run one test at a time. A test
/// that hangs fails at its time limit instead of holding up the whole run.
@Suite(.serialized, .timeLimit(.minutes(10))) struct WorkerSuites {}

enum Broker {
    static let bootstrap = ProcessInfo.processInfo.environment["KAFKA_BOOTSTRAP"] ?? "127.0.0.1:9092"

    static func uniqueID(_ prefix: String) -> String {
        "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
    }

    static func producer() throws -> KafkaProducer {
        var configuration = KafkaProducerConfiguration(bootstrapServers: bootstrap)
        configuration.lingerMilliseconds = 1
        return try KafkaProducer(configuration: configuration)
    }
}

func workerConfiguration(_ applicationID: String, partitions: Int = 4) -> WorkerConfiguration {
    var configuration = WorkerConfiguration(bootstrapServers: Broker.bootstrap, applicationID: applicationID)
    configuration.partitions = partitions
    return configuration
}

/// Runs a worker in this process until `stop()`; stopping is a graceful shutdown.
final class InProcessWorker: Sendable {
    private let task: Task<Void, any Error>
    private let worker: Worker

    init(_ application: Application, _ configuration: WorkerConfiguration) {
        var logger = Logger(label: "test.worker")
        logger.logLevel = .warning
        let worker = Worker(application: application, configuration: configuration, logger: logger)
        self.worker = worker
        task = Task { try await worker.run() }
    }

    var transactionTotals: TransactionTotals { worker.transactionTotals }

    func stop() async throws {
        task.cancel()
        try await task.value
    }
}

/// A process of one of this package's executables (`statefun-worker` unless told otherwise),
/// killed or stopped by PID.
final class WorkerProcess: Sendable {
    let process: Process
    let name: String
    let logPath: String

    init(_ arguments: [String], name: String, product: String = "statefun-worker", bootstrap: String = Broker.bootstrap) throws {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(product)
        let fallback = FileManager.default.currentDirectoryPath + "/.build/debug/\(product)"
        let path = FileManager.default.isExecutableFile(atPath: binary.path) ? binary.path : fallback
        self.name = name
        logPath = NSTemporaryDirectory() + "\(name)-\(UUID().uuidString.prefix(6)).log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["--bootstrap", bootstrap] + arguments
        process.standardOutput = log
        process.standardError = log
        try process.run()
        Self.running.withLock { $0.append(Weak(self)) }
    }

    private struct Weak: @unchecked Sendable {
        weak var process: WorkerProcess?
        init(_ process: WorkerProcess) { self.process = process }
    }

    private static let running = Mutex<[Weak]>([])

    /// The end of the log of each worker process still running, for a test that timed out.
    static func runningLogs() -> String {
        let workers = running.withLock { list in
            list.removeAll { $0.process?.process.isRunning != true }
            return list.compactMap(\.process)
        }
        return workers.map { "\n--- \($0.name), log ends with:\n\($0.log.suffix(6_000))" }.joined()
    }

    func kill() async {
        Foundation.kill(process.processIdentifier, SIGKILL)
        if !(await exited(within: 30)) { Issue.record("\(name) still ran 30 s after SIGKILL") }
    }

    /// A test that fails half-way leaves no worker running behind it.
    deinit {
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
    }

    /// Freezes the process (SIGSTOP), as a long pause of its host would.
    func pause() { Foundation.kill(process.processIdentifier, SIGSTOP) }

    /// Lets a paused process go on (SIGCONT).
    func resume() { Foundation.kill(process.processIdentifier, SIGCONT) }

    /// Stops the process with SIGTERM, as an operator would. Every long-running program of
    /// this package stops cleanly on it, so one still running 30 s later is a failure; it is
    /// then killed, with the end of its log in the issue.
    func terminate() async {
        process.terminate()
        guard !(await exited(within: 30)) else { return }
        Issue.record("\(name) still ran 30 s after SIGTERM; its log ends with:\n\(log.suffix(4_000))")
        await kill()
    }

    /// Polls instead of `waitUntilExit`, so that no wait can outlast the test's time limit.
    private func exited(within seconds: Double) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while process.isRunning {
            guard ContinuousClock.now < deadline else { return false }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return true
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// The process's resident memory (`VmRSS`), while it runs.
    var residentMegabytes: Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "") else { return nil }
        return kilobytes / 1_024
    }

    /// How many times this worker has logged a key partition recovered.
    var recoveredPartitions: Int { log.split(separator: "\n").count { $0.contains("partition recovered") } }
}

/// Reads every record of a topic from the beginning, in the background.
final class TopicReader: Sendable {
    private let consumer: KafkaConsumer
    private let task: Task<Void, Never>
    private let collected = Collected()

    init(_ topic: String, partitions: Int, bootstrap: String = Broker.bootstrap) throws {
        consumer = try KafkaConsumer(configuration: KafkaConsumerConfiguration(bootstrapServers: bootstrap))
        let start = (0..<partitions).map { TopicPartitionOffset(topic, Int32($0), offset: TopicPartitionOffset.beginning) }
        try consumer.assign(start)
        let collected = collected
        task = Task { [consumer] in
            await consumer.readWithoutGaps(startingAt: start) { records in collected.records.withLock { $0 += records } }
        }
    }

    var records: [ConsumerRecord] { collected.records.withLock { $0 } }

    /// Waits until records have come and then none for 2 s: the whole topic, when nothing more
    /// is being written to it.
    func waitUntilQuiet(_ what: String) async throws {
        var last = -1
        try await eventually(what) {
            let count = records.count
            defer { last = count }
            guard count > 0, count == last else {
                try await Task.sleep(for: .seconds(2))
                return false
            }
            return true
        }
    }

    /// Waits until `condition` holds for the records read so far.
    func wait(seconds: Double = 60, _ what: String, until condition: @escaping @Sendable ([ConsumerRecord]) -> Bool) async throws {
        try await eventually(what, seconds: seconds) { condition(records) }
    }

    func close() async {
        await consumer.close()
        task.cancel()
    }
}

extension ConsumerRecord {
    var valueText: String { value.map { String(decoding: $0, as: UTF8.self) } ?? "" }
    var keyText: String { key.map { String(decoding: $0, as: UTF8.self) } ?? "" }
    func headerText(_ name: String) -> String? { header(name).map { String(decoding: $0, as: UTF8.self) } }
}

private final class Collected: Sendable {
    let records = Mutex<[ConsumerRecord]>([])
}

/// Polls `condition` every 50 ms until it holds, recording an issue after `seconds`.
func eventually(_ what: String, seconds: Double = 60, _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while try await !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("timed out waiting for \(what)\(WorkerProcess.runningLogs())")
            throw CancellationError()
        }
        try await Task.sleep(for: .milliseconds(50))
    }
}
