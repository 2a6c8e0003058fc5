import CRDKafka
import Logging

/// A topic as the broker describes it.
public struct TopicDescription: Hashable, Sendable {
    /// The topic's name.
    public var name: String
    /// How many partitions the topic has.
    public var partitionCount: Int
}

/// Topic administration: create, list, describe.
public final class KafkaAdmin: Sendable {
    private let client: RDKafkaClient
    private let timeoutMilliseconds: Int32

    /// A client for admin requests to the cluster `configuration` names; `logger` receives
    /// librdkafka's log lines and client errors. Throws a `.configuration` error when librdkafka
    /// rejects a property.
    public init(configuration: KafkaAdminConfiguration, logger: Logger = Logger(label: "kafka.admin")) throws(KafkaError) {
        client = try RDKafkaClient(kind: RD_KAFKA_PRODUCER, properties: configuration.librdkafkaProperties,
                                   callbacks: RDKafkaCallbacks(logger: logger))
        timeoutMilliseconds = Int32(configuration.requestTimeoutMilliseconds)
    }

    /// Creates a topic. Throws a `.permanent` error with code `TOPIC_ALREADY_EXISTS` when it exists.
    public func createTopic(
        _ name: String, partitions: Int, replicationFactor: Int = 1, configs: [String: String] = [:]
    ) async throws(KafkaError) {
        let client = client, timeout = timeoutMilliseconds
        try await runBlocking { () throws(KafkaError) in
            var errorText = [CChar](repeating: 0, count: 512)
            guard let topic = rd_kafka_NewTopic_new(name, Int32(partitions), Int32(replicationFactor),
                                                    &errorText, errorText.count) else {
                throw KafkaError(.permanent, "topic \"\(name)\": \(String(nulTerminated: errorText))")
            }
            defer { rd_kafka_NewTopic_destroy(topic) }
            for (key, value) in configs.sorted(by: { $0.key < $1.key }) {
                let code = rd_kafka_NewTopic_set_config(topic, key, value)
                if code != RD_KAFKA_RESP_ERR_NO_ERROR { throw .from(code, "topic \"\(name)\" config \(key)=\(value)") }
            }
            try Self.request(client, RD_KAFKA_ADMIN_OP_CREATETOPICS, timeout, "create topic \"\(name)\"") { options, queue in
                var topics: [OpaquePointer?] = [topic]
                rd_kafka_CreateTopics(client.handle, &topics, 1, options, queue)
            } result: { event throws(KafkaError) in
                var count = 0
                guard let results = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &count) else { return }
                for index in 0..<count {
                    let code = rd_kafka_topic_result_error(results[index])
                    if code != RD_KAFKA_RESP_ERR_NO_ERROR {
                        let detail = rd_kafka_topic_result_error_string(results[index]).map { String(cString: $0) }
                        throw .from(code, "create topic \"\(name)\"", detail: detail)
                    }
                }
            }
        }
    }

    /// Creates the topic unless it exists. Returns whether it created it.
    @discardableResult
    public func ensureTopic(
        _ name: String, partitions: Int, replicationFactor: Int = 1, configs: [String: String] = [:]
    ) async throws(KafkaError) -> Bool {
        do {
            try await createTopic(name, partitions: partitions, replicationFactor: replicationFactor, configs: configs)
            return true
        } catch where error.is(RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            return false
        }
    }

    /// All topics of the cluster, by name.
    public func listTopics() async throws(KafkaError) -> [TopicDescription] {
        let client = client, timeout = timeoutMilliseconds
        return try await runBlocking { () throws(KafkaError) in
            var metadata: UnsafePointer<rd_kafka_metadata_t>?
            let code = rd_kafka_metadata(client.handle, 1, nil, &metadata, timeout)
            guard code == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else { throw .from(code, "list topics") }
            defer { rd_kafka_metadata_destroy(metadata) }
            let topics = UnsafeBufferPointer(start: metadata.pointee.topics, count: Int(metadata.pointee.topic_cnt))
            return topics.filter { $0.err == RD_KAFKA_RESP_ERR_NO_ERROR }
                .map { TopicDescription(name: String(cString: $0.topic), partitionCount: Int($0.partition_cnt)) }
                .sorted { $0.name < $1.name }
        }
    }

    /// One topic. Throws `UNKNOWN_TOPIC_OR_PART` when it does not exist.
    public func describeTopic(_ name: String) async throws(KafkaError) -> TopicDescription {
        guard let topic = try await listTopics().first(where: { $0.name == name }) else {
            throw .from(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, "describe topic \"\(name)\"")
        }
        return topic
    }

    /// The topic's configuration entries as the broker reports them.
    public func describeConfigs(topic name: String) async throws(KafkaError) -> [String: String] {
        let client = client, timeout = timeoutMilliseconds
        return try await runBlocking { () throws(KafkaError) in
            let resource = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, name)
            defer { rd_kafka_ConfigResource_destroy(resource) }
            return try Self.request(client, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, timeout, "describe configs of \"\(name)\"") { options, queue in
                var resources: [OpaquePointer?] = [resource]
                rd_kafka_DescribeConfigs(client.handle, &resources, 1, options, queue)
            } result: { event throws(KafkaError) -> [String: String] in
                var count = 0
                guard let results = rd_kafka_DescribeConfigs_result_resources(
                    rd_kafka_event_DescribeConfigs_result(event), &count), count > 0 else { return [:] }
                let code = rd_kafka_ConfigResource_error(results[0])
                if code != RD_KAFKA_RESP_ERR_NO_ERROR { throw .from(code, "describe configs of \"\(name)\"") }
                var entryCount = 0
                guard let entries = rd_kafka_ConfigResource_configs(results[0], &entryCount) else { return [:] }
                var configs: [String: String] = [:]
                for index in 0..<entryCount {
                    guard let value = rd_kafka_ConfigEntry_value(entries[index]) else { continue }
                    configs[String(cString: rd_kafka_ConfigEntry_name(entries[index]))] = String(cString: value)
                }
                return configs
            }
        }
    }

    /// Runs one admin request and waits for its result event, all on the calling (blocking) thread.
    private static func request<T>(
        _ client: RDKafkaClient, _ operation: rd_kafka_admin_op_t, _ timeout: Int32, _ what: String,
        submit: (OpaquePointer, OpaquePointer) -> Void,
        result: (OpaquePointer) throws(KafkaError) -> T
    ) throws(KafkaError) -> T {
        let queue = rd_kafka_queue_new(client.handle)!
        defer { rd_kafka_queue_destroy(queue) }
        let options = rd_kafka_AdminOptions_new(client.handle, operation)!
        defer { rd_kafka_AdminOptions_destroy(options) }
        var errorText = [CChar](repeating: 0, count: 512)
        _ = rd_kafka_AdminOptions_set_request_timeout(options, timeout, &errorText, errorText.count)
        submit(options, queue)
        // The request times out on its own after `timeout`; the extra second only covers delivery.
        guard let event = rd_kafka_queue_poll(queue, timeout + 1_000) else {
            throw .from(RD_KAFKA_RESP_ERR__TIMED_OUT, what)
        }
        defer { rd_kafka_event_destroy(event) }
        let code = rd_kafka_event_error(event)
        if code != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw .from(code, what, detail: rd_kafka_event_error_string(event).map { String(cString: $0) })
        }
        return try result(event)
    }
}
