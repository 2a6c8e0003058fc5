import Kafka

/// How the driver's clients reach Kafka: the bootstrap servers, and the `--kafka` properties,
/// which every client takes and which win over the driver's own settings.
struct KafkaSettings: Sendable {
    let bootstrap: String
    let properties: [String: String]

    func producer(lingerMilliseconds: Int) -> KafkaProducerConfiguration {
        var configuration = KafkaProducerConfiguration(bootstrapServers: bootstrap)
        configuration.lingerMilliseconds = lingerMilliseconds
        configuration.properties = properties
        return configuration
    }

    var consumer: KafkaConsumerConfiguration {
        var configuration = KafkaConsumerConfiguration(bootstrapServers: bootstrap)
        configuration.properties = properties
        return configuration
    }

    var admin: KafkaAdminConfiguration {
        var configuration = KafkaAdminConfiguration(bootstrapServers: bootstrap)
        configuration.properties = properties
        return configuration
    }
}
