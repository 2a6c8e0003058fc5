import ArgumentParser
import Bank
import Greeter
import Kafka
import Logging
import MetricsEndpoint
import ServiceLifecycle
import StatefulFunctions
import UnixSignals
import Worker
import YCSB

/// Runs a worker of one of the bundled applications until SIGTERM or SIGINT.
@main
struct StatefunWorker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "statefun-worker",
        abstract: "Run a stateful-functions worker. Workers with the same application id share the partitions."
    )

    enum App: String, ExpressibleByArgument, CaseIterable {
        case greeter
        case bank
        case ycsb
    }

    @Option(help: "Application to run: \(App.allCases.map(\.rawValue).joined(separator: ", ")).") var app = App.greeter
    @Option(help: ArgumentHelp("Run the application this StateFun module file describes (remote functions, Kafka ingresses and egresses) instead of --app.",
                               valueName: "module.yaml")) var module: String?
    @Option(help: "Kafka bootstrap servers (default: the module file's address, else 127.0.0.1:9092).") var bootstrap: String?
    @Option(help: "Application id: consumer group and topic prefix (default: the module's consumerGroupId, else the application's name).")
    var applicationID: String?
    @Option(help: "Key partitions (fixed for the life of the application).") var partitions = 8
    @Option(help: "Minimum milliseconds between two checkpoints of a partition while one is being written.") var checkpointInterval = 5
    @Option(help: "A full snapshot every this many epochs.") var snapshotEvery = 2_000
    @Option(help: "Milliseconds outputs wait to fill a batch (linger.ms of the output producer).") var outputLinger = 20
    @Option(help: "Unprocessed input records per partition before its inputs pause.") var maxBuffered = 20_000
    @Option(help: "Busy transaction coordinators per partition before it takes no new ingress records.")
    var maxTransactions = 200
    @Option(help: "Input records larger than this (key plus value, bytes) go to the dead-letter topic.") var maxRecordBytes = 1_000_000
    @Option(help: "Milliseconds after which an undecided 2PC transaction is aborted and reported retryable.")
    var transactionTimeout: Int64 = 10_000
    @Option(help: "Restarts of a deadlock victim before it is reported retryable.") var maxDeadlockRetries = 10
    @Option(help: "Milliseconds a worker that stopped answering keeps its partitions (session.timeout.ms of its group).")
    var sessionTimeout = 1_000
    @Option(help: "Serve Prometheus metrics on this port, at /metrics (off unless given; 0: any free port, logged).")
    var metricsPort: Int?
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel = "info"
    @Option(name: .customLong("kafka"), help: "A librdkafka property, as name=value (repeatable).",
            transform: { try KafkaPropertyAssignment(parsing: $0) })
    var kafkaProperties: [KafkaPropertyAssignment] = []
    @Option(help: "Greeter: the requests topic.") var greeterRequests = Greeter.requestsTopic
    @Option(help: "Greeter: the greetings topic.") var greeterGreetings = Greeter.greetingsTopic
    @Option(help: "Bank: the requests topic.") var bankRequests = Bank.requestsTopic
    @Option(help: "Bank: the responses topic.") var bankResponses = Bank.responsesTopic
    @Option(help: "YCSB: the requests topic.") var ycsbRequests = YCSB.requestsTopic
    @Option(help: "YCSB: the responses topic.") var ycsbResponses = YCSB.responsesTopic
    @Flag(help: "YCSB: bind no transfer coordinators (transfers are answered 400), as a baseline.") var ycsbNoTransactions = false
    @Option(help: ArgumentHelp("Fault tests only: kill this worker right after a 2PC coordinator's prepare or decision.",
                               visibility: .hidden)) var crashAfter: CrashPoint?

    func validate() throws {
        for (name, value) in [("--partitions", partitions), ("--max-buffered", maxBuffered), ("--max-transactions", maxTransactions)]
        where value < 1 {
            throw ValidationError("\(name) must be at least 1, got \(value)")
        }
        guard sessionTimeout >= 100 else { throw ValidationError("--session-timeout must be at least 100 ms, got \(sessionTimeout)") }
        if let metricsPort, !(0...65_535).contains(metricsPort) {
            throw ValidationError("--metrics-port must be a port number, got \(metricsPort)")
        }
        guard outputLinger >= 0 else { throw ValidationError("--output-linger must be at least 0, got \(outputLinger)") }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let moduleFile = try module.map { path throws(ModuleError) in try ModuleFile.load(path: path) }
        let application = if let moduleFile { moduleFile.application } else {
            switch app {
            case .greeter: Greeter.application(requestsTopic: greeterRequests, greetingsTopic: greeterGreetings)
            case .bank: Bank.application(requestsTopic: bankRequests, responsesTopic: bankResponses)
            case .ycsb: YCSB.application(requestsTopic: ycsbRequests, responsesTopic: ycsbResponses, transactions: !ycsbNoTransactions)
            }
        }
        var configuration = WorkerConfiguration(
            bootstrapServers: bootstrap ?? moduleFile?.bootstrapServers ?? "127.0.0.1:9092",
            applicationID: applicationID ?? moduleFile?.consumerGroupID ?? application.name)
        configuration.partitions = partitions
        configuration.checkpointIntervalMilliseconds = checkpointInterval
        configuration.snapshotEveryEpochs = snapshotEvery
        configuration.outputLingerMilliseconds = outputLinger
        configuration.maxBufferedRecordsPerPartition = maxBuffered
        configuration.maxTransactionsPerPartition = maxTransactions
        configuration.maxRecordBytes = maxRecordBytes
        configuration.transactionTimeoutMilliseconds = transactionTimeout
        configuration.maxDeadlockRetries = maxDeadlockRetries
        configuration.sessionTimeoutMilliseconds = sessionTimeout
        configuration.crashAfter = crashAfter
        configuration.kafkaProperties = KafkaPropertyAssignment.properties(kafkaProperties)
        let logger = Logger(label: "statefun.worker")
        // Before the worker makes its first metric. Listed first, it stops after the worker.
        let metrics = metricsPort.map { MetricsEndpoint.bootstrap(port: $0, logger: logger) }
        let worker = Worker(application: application, configuration: configuration, logger: logger)
        let services: [ServiceGroupConfiguration.ServiceConfiguration] = (metrics.map { [.init(service: $0)] } ?? []) + [.init(service: worker)]
        let group = ServiceGroup(configuration: .init(
            services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

extension CrashPoint: ExpressibleByArgument {}
