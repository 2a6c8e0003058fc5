import Testing

@testable import Kafka

@Suite struct PropertyAssignmentTests {
    @Test func valuesKeepTheirEqualsSignsAndALaterAssignmentWins() throws {
        let assignments = try ["sasl.jaas.config=user=a password=b", "linger.ms=5", "linger.ms=0", "client.id="]
            .map { assignment throws(KafkaError) in try KafkaPropertyAssignment(parsing: assignment) }
        #expect(KafkaPropertyAssignment.properties(assignments)
            == ["sasl.jaas.config": "user=a password=b", "linger.ms": "0", "client.id": ""])
    }

    @Test func anAssignmentWithoutANameOrAnEqualsSignIsAConfigurationError() {
        for malformed in ["linger.ms", "=5", ""] {
            let error = #expect(throws: KafkaError.self) { try KafkaPropertyAssignment(parsing: malformed) }
            #expect(error?.category == .configuration)
            #expect(error?.message.contains("\"\(malformed)\"") == true, "\(String(describing: error))")
        }
    }
}
