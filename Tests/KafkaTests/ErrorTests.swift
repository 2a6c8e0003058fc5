import Foundation
import Kafka
import Testing

@Suite struct ErrorTests {
    /// Nothing listens on port 1.
    static let unreachable = "127.0.0.1:1"

    @Test func adminAgainstAnUnreachableBrokerFailsWithinItsTimeout() async throws {
        var configuration = KafkaAdminConfiguration(bootstrapServers: Self.unreachable)
        configuration.requestTimeoutMilliseconds = 1_500
        let admin = try KafkaAdmin(configuration: configuration)
        let started = ContinuousClock.now
        let error = try await within(30, "the error") {
            await #expect(throws: KafkaError.self) { try await admin.listTopics() }
        }
        #expect(error?.category == .retriable)
        #expect(ContinuousClock.now - started < .seconds(30), "no hang")
    }

    @Test func sendingToAnUnreachableBrokerFailsWithinTheDeliveryTimeout() async throws {
        var configuration = KafkaProducerConfiguration(bootstrapServers: Self.unreachable)
        configuration.deliveryTimeoutMilliseconds = 1_500
        let producer = try KafkaProducer(configuration: configuration)
        let error = try await within(30, "the delivery error") {
            await #expect(throws: KafkaError.self) {
                try await producer.send(ProducerRecord(topic: "nowhere", key: "k", value: "v"))
            }
        }
        #expect(error?.codeName == "_MSG_TIMED_OUT")
        #expect(error?.isRetriable == true)
        await #expect(throws: Never.self) { try await producer.shutdown() }
    }

    @Test func anUnknownPropertyIsNamedInTheError() {
        var configuration = KafkaProducerConfiguration(bootstrapServers: TestBroker.bootstrap)
        configuration.properties["no.such.property"] = "1"
        let error = #expect(throws: KafkaError.self) { try KafkaProducer(configuration: configuration) }
        #expect(error?.category == .configuration)
        #expect(error?.message.contains("no.such.property") == true)
    }

    @Test func anInvalidValueIsNamedInTheError() {
        var configuration = KafkaConsumerConfiguration(bootstrapServers: TestBroker.bootstrap)
        configuration.properties["fetch.wait.max.ms"] = "soon"
        let error = #expect(throws: KafkaError.self) { try KafkaConsumer(configuration: configuration) }
        #expect(error?.category == .configuration)
        #expect(error?.message.contains("fetch.wait.max.ms") == true)
    }
}
