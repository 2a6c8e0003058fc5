import Testing

@testable import Kafka

@Suite struct PropertyAssignmentsTests {
    @Test func valuesKeepTheirEqualsSignsAndALaterAssignmentWins() throws {
        let properties = try KafkaPropertyAssignments.parse([
            "sasl.jaas.config=user=a password=b", "linger.ms=5", "linger.ms=0", "client.id=",
        ])
        #expect(properties == ["sasl.jaas.config": "user=a password=b", "linger.ms": "0", "client.id": ""])
    }

    @Test func anAssignmentWithoutANameOrAnEqualsSignIsAConfigurationError() {
        for malformed in ["linger.ms", "=5", ""] {
            let error = #expect(throws: KafkaError.self) { try KafkaPropertyAssignments.parse(["acks=all", malformed]) }
            #expect(error?.category == .configuration)
            #expect(error?.message.contains("\"\(malformed)\"") == true, "\(String(describing: error))")
        }
    }
}
