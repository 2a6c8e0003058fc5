import Kafka
import Testing

@Suite struct Murmur2PartitionerTests {
    /// Values from Kafka's own Java test of `Utils.murmur2`.
    @Test(arguments: [
        ("21", Int32(-973_932_308)),
        ("foobar", -790_332_482),
        ("a-little-bit-long-string", -985_981_536),
        ("a-little-bit-longer-string", -1_486_304_829),
        ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58_897_971),
        ("abc", 479_470_107),
    ])
    func hashMatchesJavaClient(key: String, expected: Int32) {
        #expect(Murmur2Partitioner.hash(key.utf8) == expected)
    }

    /// Partitions as the Java client computes them: toPositive(murmur2(key)) % n.
    @Test(arguments: [
        ("21", 8, Int32(4)), ("foobar", 8, 6), ("a-little-bit-long-string", 8, 0), ("abc", 8, 3),
        ("a-little-bit-long-string", 3, 2), ("foobar", 12, 6),
    ])
    func knownKeyPartitions(key: String, partitions: Int, expected: Int32) {
        #expect(Murmur2Partitioner.partition(forKey: key, partitionCount: partitions) == expected)
    }

    @Test func brokerPartitionsAgreeWithMurmur2() async throws {
        let topic = try await TestBroker.createTopic(partitions: 8, prefix: "murmur")
        let producer = try TestBroker.producer()
        for index in 0..<40 {
            let key = "account-\(index)"
            let report = try await producer.send(ProducerRecord(topic: topic, key: key, value: "v"))
            #expect(report.partition == Murmur2Partitioner.partition(forKey: key, partitionCount: 8), "key \(key)")
        }
        try await producer.shutdown()
    }
}
