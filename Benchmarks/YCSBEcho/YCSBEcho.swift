import ArgumentParser
import Foundation
import Kafka
import Logging
import StatefulFunctions
import UnixSignals
import YCSB

/// The latency ladder's baseline: answers every YCSB request at once with status 200, through
/// the same broker with the worker's Kafka settings (its consumer's fetch wait, its outputs'
/// linger) and without state, checkpoints or transactions. What the driver measures against it
/// is the broker path alone, which any engine on this broker pays before doing any work.
@main
struct YCSBEcho: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ycsb-echo",
        abstract: "Answer every YCSB request at once (200), through Kafka only: the latency ladder's baseline."
    )

    @Option(help: "Broker address.") var bootstrap = "127.0.0.1:9092"
    @Option(help: "Partitions of the requests and responses topics, if it creates them.") var partitions = 1
    @Option(help: "Milliseconds responses wait to fill a batch (the worker's --output-linger default).")
    var outputLinger = 20

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .warning
            return handler
        }
        let admin = try KafkaAdmin(configuration: KafkaAdminConfiguration(bootstrapServers: bootstrap))
        for topic in [YCSB.requestsTopic, YCSB.responsesTopic] { try await admin.ensureTopic(topic, partitions: partitions) }
        let requestPartitions = try await admin.describeTopic(YCSB.requestsTopic).partitionCount
        var producerConfiguration = KafkaProducerConfiguration(bootstrapServers: bootstrap)
        producerConfiguration.lingerMilliseconds = outputLinger
        let producer = try KafkaProducer(configuration: producerConfiguration)
        let consumer = try KafkaConsumer(configuration: KafkaConsumerConfiguration(bootstrapServers: bootstrap))
        try consumer.assign((0..<Int32(requestPartitions)).map {
            TopicPartitionOffset(YCSB.requestsTopic, $0, offset: TopicPartitionOffset.beginning)
        })
        let signals = Task {
            for await _ in await UnixSignalsSequence(trapping: .sigterm, .sigint) { break }
            await consumer.close()
        }
        say("echo ready")
        var answered = 0
        for await event in consumer.events {
            guard case .records(let records) = event else { continue }
            for record in records {
                // The same decoding and encoding as the YCSB application's, and nothing else.
                guard let request = try? Message(bytes: record.value ?? []).decode(YCSB.Request.self) else { continue }
                // A read gets an account at its starting balance, so that the driver's load and
                // read-back run as they do against the engine (the balance check says nothing here).
                let record = request.op == "read" ? YCSB.Record(balance: YCSB.defaultBalance, fields: [:]) : nil
                let response = YCSB.Response(request_id: request.request_id, op: request.op, status: 200, record: record)
                try await producer.enqueue(ProducerRecord(topic: YCSB.responsesTopic, key: Array(request.request_id.utf8),
                                                          value: try Message(json: response).payload))
                answered += 1
            }
        }
        signals.cancel()
        try await producer.shutdown()
        say("answered \(answered) requests")
    }

    /// Writes `line` to standard output at once (unbuffered: the ladder waits for "echo ready").
    private func say(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}
