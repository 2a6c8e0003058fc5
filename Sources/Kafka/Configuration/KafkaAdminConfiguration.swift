/// Settings of a `KafkaAdmin` client.
public struct KafkaAdminConfiguration: Sendable {
    /// `bootstrap.servers`, e.g. `127.0.0.1:9092`.
    public var bootstrapServers: String
    /// `client.id`. Default `statefun-admin`.
    public var clientID = "statefun-admin"
    /// How long an admin request or metadata lookup may take before it fails with a retriable
    /// error. Default 10 s.
    public var requestTimeoutMilliseconds = 10_000
    /// Any librdkafka property (CONFIGURATION.md), applied last.
    public var properties: [String: String] = [:]

    /// Settings for the cluster at `bootstrapServers`, every other field at its default.
    public init(bootstrapServers: String) {
        self.bootstrapServers = bootstrapServers
    }

    var librdkafkaProperties: [String: String] {
        [
            "bootstrap.servers": bootstrapServers,
            "client.id": clientID,
        ].merging(properties) { _, override in override }
    }
}
