import Foundation
import Kafka
import Testing

/// `scripts/broker.sh --durable`: records survive a restart of the broker (its storage,
/// SeaweedFS, keeps running).
@Suite struct DurableBrokerTests {
    static let port = 19_192
    /// A state directory of its own: SeaweedFS does not start again on old data.
    static let stateDirectory = NSTemporaryDirectory() + "durable-broker-\(UUID().uuidString.prefix(8))"

    /// Runs the broker script and returns its exit status. Not through Foundation's `Process`:
    /// it waits for the broker the script leaves running in the background, not for the script.
    static func broker(_ arguments: [String]) throws -> Int32 {
        let path = FileManager.default.currentDirectoryPath + "/scripts/broker.sh"
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments + ["--port", "\(port)"]).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let environment = ProcessInfo.processInfo.environment.merging(["STATEFUN_BROKER_DIR": stateDirectory]) { $1 }
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { envp.forEach { free($0) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, path, &actions, nil, argv, envp) == 0 else { return -1 }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        return (status >> 8) & 0xff
    }

    @Test func recordsSurviveABrokerRestart() async throws {
        let bootstrap = "127.0.0.1:\(Self.port)"
        #expect(try Self.broker(["start", "--durable"]) == 0)
        defer {
            _ = try? Self.broker(["stop"])
            try? FileManager.default.removeItem(atPath: Self.stateDirectory)
        }
        let topic = TestBroker.uniqueTopic("durable")
        var admin = KafkaAdminConfiguration(bootstrapServers: bootstrap)
        admin.requestTimeoutMilliseconds = 10_000
        try await KafkaAdmin(configuration: admin).createTopic(topic, partitions: 1)
        let producer = try KafkaProducer(configuration: .init(bootstrapServers: bootstrap))
        try await producer.send(ProducerRecord(topic: topic, key: "k", value: "kept"))
        try await producer.shutdown()

        #expect(try Self.broker(["stop", "--keep-storage"]) == 0)
        #expect(try Self.broker(["start", "--durable"]) == 0)

        let consumer = try KafkaConsumer(configuration: .init(bootstrapServers: bootstrap))
        try consumer.assign([TopicPartitionOffset(topic, 0, offset: TopicPartitionOffset.beginning)])
        let records = try await collectRecords(consumer, count: 1)
        await consumer.close()
        #expect(records.map { $0.value?.text } == ["kept"])
    }
}
