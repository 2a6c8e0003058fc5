/// Kafka's default partitioner for keyed records (Java client `Utils.murmur2`), so that the
/// engine and any client that produces with the same key agree on the partition.
public enum Murmur2Partitioner {
    /// Kafka's murmur2 hash of `key` (seed 0x9747b28c), as a signed 32-bit value like Java's.
    public static func hash(_ key: some Collection<UInt8>) -> Int32 {
        let m: UInt32 = 0x5bd1_e995
        let r: UInt32 = 24
        let bytes = Array(key)
        let length = bytes.count
        var h: UInt32 = 0x9747_b28c ^ UInt32(truncatingIfNeeded: length)

        var index = 0
        while index + 4 <= length {
            var k = UInt32(bytes[index]) | UInt32(bytes[index + 1]) << 8
                | UInt32(bytes[index + 2]) << 16 | UInt32(bytes[index + 3]) << 24
            k = k &* m
            k ^= k >> r
            k = k &* m
            h = h &* m
            h ^= k
            index += 4
        }
        let tail = length - index
        if tail >= 3 { h ^= UInt32(bytes[index + 2]) << 16 }
        if tail >= 2 { h ^= UInt32(bytes[index + 1]) << 8 }
        if tail >= 1 {
            h ^= UInt32(bytes[index])
            h = h &* m
        }
        h ^= h >> 13
        h = h &* m
        h ^= h >> 15
        return Int32(bitPattern: h)
    }

    /// The partition Kafka's Java client (and librdkafka's `murmur2_random`) picks for `key`.
    public static func partition(forKey key: some Collection<UInt8>, partitionCount: Int) -> Int32 {
        precondition(partitionCount > 0, "partitionCount must be positive")
        return Int32((hash(key) & 0x7fff_ffff) % Int32(partitionCount))
    }

    /// The partition for the UTF-8 bytes of `key`, as `partition(forKey:partitionCount:)` picks it
    /// for bytes. `partitionCount` must be positive.
    public static func partition(forKey key: String, partitionCount: Int) -> Int32 {
        partition(forKey: key.utf8, partitionCount: partitionCount)
    }
}
