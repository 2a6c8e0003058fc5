/// Protocol Buffers' wire format, for the few messages of StateFun's request-reply protocol:
/// varints, 64-bit fixed values and length-delimited fields. Unknown fields are skipped.
package struct ProtoWriter {
    package private(set) var bytes: [UInt8] = []

    package init() {}

    private mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    private mutating func tag(_ field: Int, _ wireType: UInt64) { varint(UInt64(field) << 3 | wireType) }

    package mutating func bool(_ field: Int, _ value: Bool) {
        guard value else { return }
        tag(field, 0)
        varint(1)
    }

    package mutating func bytes(_ field: Int, _ value: some Collection<UInt8>) {
        tag(field, 2)
        varint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    package mutating func string(_ field: Int, _ value: String) {
        guard !value.isEmpty else { return }
        bytes(field, value.utf8)
    }

    /// A nested message, written by `body` into a writer of its own.
    package mutating func message(_ field: Int, _ body: (inout ProtoWriter) -> Void) {
        var nested = ProtoWriter()
        body(&nested)
        bytes(field, nested.bytes)
    }
}

/// Reads the fields of one message in order; a truncated or malformed message throws.
package struct ProtoReader {
    package struct Malformed: Error, CustomStringConvertible {
        package let description: String
    }

    package enum Value {
        case varint(UInt64)
        case fixed64(UInt64)
        case fixed32(UInt32)
        case bytes(ArraySlice<UInt8>)

        package func bytes() throws(Malformed) -> ArraySlice<UInt8> {
            guard case .bytes(let bytes) = self else { throw Malformed(description: "expected a length-delimited field") }
            return bytes
        }

        package func string() throws(Malformed) -> String { String(decoding: try bytes(), as: UTF8.self) }

        package func integer() throws(Malformed) -> UInt64 {
            switch self {
            case .varint(let value), .fixed64(let value): value
            case .fixed32(let value): UInt64(value)
            case .bytes: throw Malformed(description: "expected a number, found a length-delimited field")
            }
        }
    }

    private let bytes: ArraySlice<UInt8>
    private var position: Int

    package init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        position = bytes.startIndex
    }

    package init(_ bytes: [UInt8]) { self.init(bytes[...]) }

    private mutating func varint() throws(Malformed) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while position < bytes.endIndex, shift < 64 {
            let byte = bytes[position]
            position += 1
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return result }
            shift += 7
        }
        throw Malformed(description: "truncated varint")
    }

    private mutating func take(_ count: Int) throws(Malformed) -> ArraySlice<UInt8> {
        guard count >= 0, bytes.endIndex - position >= count else { throw Malformed(description: "truncated field") }
        defer { position += count }
        return bytes[position..<position + count]
    }

    private mutating func little(_ count: Int) throws(Malformed) -> UInt64 {
        try take(count).reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// The next field's number and value, or nil at the end.
    package mutating func next() throws(Malformed) -> (field: Int, value: Value)? {
        guard position < bytes.endIndex else { return nil }
        let key = try varint()
        let field = Int(truncatingIfNeeded: key >> 3)
        switch key & 7 {
        case 0: return (field, .varint(try varint()))
        case 1: return (field, .fixed64(try little(8)))
        case 2:
            let length = try varint()
            guard length <= UInt64(Int.max) else { throw Malformed(description: "field too long") }
            return (field, .bytes(try take(Int(length))))
        case 5: return (field, .fixed32(UInt32(try little(4))))
        case let wireType: throw Malformed(description: "unsupported wire type \(wireType) of field \(field)")
        }
    }
}
