import CRDKafka
import Foundation
import Testing

@testable import Kafka

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

    /// A broker that answers a retried record with "duplicate sequence number" vouches for a
    /// record without saying where it is; Tansu answers so for records it lost when stopped.
    @Test func anAcknowledgementWithoutAnOffsetIsAFailureToRetry() throws {
        let vouched = DeliveryTracker.outcome(code: RD_KAFKA_RESP_ERR_NO_ERROR, topic: "t", partition: 2, offset: -1)
        #expect(throws: KafkaError.self) { try vouched.get() }
        #expect((try? vouched.get()) == nil)
        if case .failure(let error) = vouched { #expect(error.isRetriable && error.message.contains("t[2]")) }

        let stored = DeliveryTracker.outcome(code: RD_KAFKA_RESP_ERR_NO_ERROR, topic: "t", partition: 2, offset: 41)
        #expect(try stored.get() == DeliveryReport(topic: "t", partition: 2, offset: 41))

        let refused = DeliveryTracker.outcome(code: RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, topic: "t", partition: 2, offset: -1)
        if case .failure(let error) = refused { #expect(error.category == .permanent) } else { Issue.record("a refused record succeeded") }
    }

    /// librdkafka numbers the records of a batch acknowledged without an offset -1, 0, 1, ...:
    /// none of them is at a real offset, whether the partition had acknowledgements before
    /// or not; the real acknowledgements after them are.
    @Test func recordsOfABatchAcknowledgedWithoutAnOffsetHaveNoRealOffset() {
        var offsets = VouchedOffsets()
        let seen = VouchedOffsets.PartitionKey(topic: 1, partition: 0)
        let fresh = VouchedOffsets.PartitionKey(topic: 1, partition: 1)
        #expect([536, 537].map { offsets.isReal($0, of: seen) } == [true, true])
        // A vouched batch of four records, then the next batch at real offsets.
        #expect([-1, 0, 1, 2, 556, 557].map { offsets.isReal($0, of: seen) } == [false, false, false, false, true, true])
        // The same on a partition with no acknowledgement before.
        #expect([-1, 0, 1, 12, 13].map { offsets.isReal($0, of: fresh) } == [false, false, false, true, true])
        // An offset that does not rise is not real either.
        #expect(offsets.isReal(540, of: seen) == false)
        #expect(offsets.isReal(558, of: seen) == true)
    }
}
