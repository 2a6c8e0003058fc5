/// Settings of a `KafkaProducer`. Every field has a documented default; `properties` passes any
/// librdkafka property through and wins over the typed fields.
public struct KafkaProducerConfiguration: Sendable {
    /// `bootstrap.servers`, e.g. `127.0.0.1:9092`.
    public var bootstrapServers: String
    /// `client.id`. Default `statefun`.
    public var clientID = "statefun"
    /// `linger.ms`: how long records wait to fill a batch. Default 5 ms.
    public var lingerMilliseconds = 5
    /// `message.timeout.ms`: a record not acknowledged within this time fails with a retriable
    /// error. Default 30 s.
    public var deliveryTimeoutMilliseconds = 30_000
    /// `queue.buffering.max.messages`: records held locally before `send` waits for room.
    /// Default 1,000,000.
    public var maxQueuedRecords = 1_000_000
    /// Any librdkafka property (CONFIGURATION.md), applied last.
    public var properties: [String: String] = [:]
    /// Asked right before each record is handed to librdkafka; a reason refuses the record
    /// with a `.fenced` error. A client that may have lost the right to write (e.g. a worker
    /// whose group session may have expired) fences itself with it. nil (never) by default.
    public var fence: (@Sendable () -> String?)?

    /// Settings for the cluster at `bootstrapServers`, every other field at its default.
    public init(bootstrapServers: String) {
        self.bootstrapServers = bootstrapServers
    }

    /// Idempotence (which implies `acks=all`) and Kafka's Java partitioner (murmur2 on the
    /// key, so a record lands where a Java client would put it) are fixed; the rest is tunable.
    var librdkafkaProperties: [String: String] {
        [
            "bootstrap.servers": bootstrapServers,
            "client.id": clientID,
            "enable.idempotence": "true",
            "acks": "all",
            "partitioner": "murmur2_random",
            "linger.ms": String(lingerMilliseconds),
            "message.timeout.ms": String(deliveryTimeoutMilliseconds),
            "queue.buffering.max.messages": String(maxQueuedRecords),
        ].merging(properties) { _, override in override }
    }
}
