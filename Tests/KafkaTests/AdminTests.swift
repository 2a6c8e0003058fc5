import Kafka
import Testing

@Suite struct AdminTests {
    @Test func createsTopicsWithPartitionsAndConfigs() async throws {
        let admin = try TestBroker.admin()
        let topic = TestBroker.uniqueTopic("compacted")
        try await admin.createTopic(topic, partitions: 6, configs: ["cleanup.policy": "compact"])

        let description = try await admin.describeTopic(topic)
        #expect(description.partitionCount == 6)
        #expect(try await admin.listTopics().contains(description))
        let configs = try await admin.describeConfigs(topic: topic)
        #expect(configs["cleanup.policy"] == "compact")
    }

    @Test func creatingAnExistingTopicIsReportedClearly() async throws {
        let admin = try TestBroker.admin()
        let topic = try await TestBroker.createTopic(partitions: 2, prefix: "exists")
        let error = await #expect(throws: KafkaError.self) {
            try await admin.createTopic(topic, partitions: 2)
        }
        #expect(error?.codeName == "TOPIC_ALREADY_EXISTS")
        #expect(error?.category == .permanent)
        #expect(error?.message.contains(topic) == true)
        #expect(try await admin.ensureTopic(topic, partitions: 2) == false)
    }

    @Test func describingAMissingTopicFailsWithUnknownTopic() async throws {
        let error = await #expect(throws: KafkaError.self) {
            try await TestBroker.admin().describeTopic(TestBroker.uniqueTopic("missing"))
        }
        #expect(error?.codeName == "UNKNOWN_TOPIC_OR_PART")
    }
}
