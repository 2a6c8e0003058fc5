/// A compact binary encoding for checkpoints and internal messages: varints and
/// length-prefixed bytes. Faster and smaller than JSON on the hot path.
struct ByteWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 256) {
        bytes.reserveCapacity(capacity)
    }

    mutating func write(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    /// Zig-zag, so small negative numbers stay small.
    mutating func write(_ value: Int64) {
        write(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    mutating func write(_ value: Int32) { write(Int64(value)) }
    mutating func write(_ value: Int) { write(Int64(value)) }
    mutating func write(_ value: Bool) { bytes.append(value ? 1 : 0) }

    mutating func write(_ value: [UInt8]) {
        write(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    mutating func write(_ value: String) { write(Array(value.utf8)) }

    mutating func write(optional value: [UInt8]?) {
        write(value != nil)
        if let value { write(value) }
    }

    mutating func write(optional value: String?) {
        write(value != nil)
        if let value { write(value) }
    }
}

/// Reads what `ByteWriter` wrote; malformed input throws, never traps.
struct ByteReader {
    struct Malformed: Error, CustomStringConvertible {
        let description: String
    }

    private let bytes: [UInt8]
    private var position = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    mutating func readUInt64() throws(Malformed) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < bytes.count else { throw Malformed(description: "truncated varint") }
            let byte = bytes[position]
            position += 1
            guard shift < 64 else { throw Malformed(description: "varint too long") }
            result |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }

    mutating func readInt64() throws(Malformed) -> Int64 {
        let raw = try readUInt64()
        return Int64(bitPattern: raw >> 1) ^ -Int64(bitPattern: raw & 1)
    }

    mutating func readInt32() throws(Malformed) -> Int32 {
        let value = try readInt64()
        guard let narrow = Int32(exactly: value) else { throw Malformed(description: "\(value) is not a 32-bit value") }
        return narrow
    }

    mutating func readInt() throws(Malformed) -> Int { Int(try readInt64()) }

    mutating func readBool() throws(Malformed) -> Bool {
        guard position < bytes.count else { throw Malformed(description: "truncated bool") }
        defer { position += 1 }
        return bytes[position] != 0
    }

    mutating func readBytes() throws(Malformed) -> [UInt8] {
        let count = try readUInt64()
        guard count <= UInt64(bytes.count - position) else { throw Malformed(description: "length \(count) past the end") }
        defer { position += Int(count) }
        return Array(bytes[position..<position + Int(count)])
    }

    mutating func readString() throws(Malformed) -> String { String(decoding: try readBytes(), as: UTF8.self) }

    mutating func readOptionalBytes() throws(Malformed) -> [UInt8]? { try readBool() ? try readBytes() : nil }
    mutating func readOptionalString() throws(Malformed) -> String? { try readBool() ? try readString() : nil }

    /// Reads a count, checking it against what is left so a corrupt count cannot allocate wildly.
    /// Counts are written as `Int`.
    mutating func readCount() throws(Malformed) -> Int {
        let count = try readInt64()
        guard count >= 0, count <= Int64(bytes.count - position) else { throw Malformed(description: "count \(count) out of range") }
        return Int(count)
    }
}
