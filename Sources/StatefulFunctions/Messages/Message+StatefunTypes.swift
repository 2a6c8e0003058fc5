/// StateFun's built-in types, as remote functions' SDKs write and read them (`StringWrapper`,
/// `IntWrapper` and `LongWrapper` protobuf messages, field 1).
extension Message {
    /// `io.statefun.types/string`.
    public static let stringTypeName = "io.statefun.types/string"
    /// `io.statefun.types/int`.
    public static let intTypeName = "io.statefun.types/int"
    /// `io.statefun.types/long`.
    public static let longTypeName = "io.statefun.types/long"

    /// A message of StateFun's string type, e.g. for `message.as_string()` in Python.
    public init(statefunString text: String) {
        var bytes: [UInt8] = []
        let utf8 = Array(text.utf8)
        if !utf8.isEmpty {
            bytes = [0x0A]
            var length = UInt64(utf8.count)
            while length >= 0x80 {
                bytes.append(UInt8(truncatingIfNeeded: length) | 0x80)
                length >>= 7
            }
            bytes.append(UInt8(length))
            bytes += utf8
        }
        self.init(bytes: bytes, typeName: Self.stringTypeName)
    }

    /// A message of StateFun's int type (32 bits).
    public init(statefunInt value: Int32) {
        self.init(bytes: value == 0 ? [] : [0x0D] + Self.littleEndian(UInt64(UInt32(bitPattern: value)), count: 4),
                  typeName: Self.intTypeName)
    }

    /// A message of StateFun's long type (64 bits).
    public init(statefunLong value: Int64) {
        self.init(bytes: value == 0 ? [] : [0x09] + Self.littleEndian(UInt64(bitPattern: value), count: 8),
                  typeName: Self.longTypeName)
    }

    /// The text of a message of StateFun's string type; nil for another type or malformed bytes.
    public var statefunString: String? {
        guard typeName == Self.stringTypeName else { return nil }
        guard !payload.isEmpty else { return "" }
        guard payload[0] == 0x0A else { return nil }
        var length: UInt64 = 0, shift: UInt64 = 0, index = 1
        while index < payload.count, shift < 64 {
            let byte = payload[index]
            index += 1
            length |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { break }
            shift += 7
        }
        guard length <= UInt64(payload.count - index) else { return nil }
        return String(decoding: payload[index..<index + Int(length)], as: UTF8.self)
    }

    /// The value of a message of StateFun's int or long type; nil for another type.
    public var statefunInteger: Int64? {
        switch typeName {
        case Self.intTypeName?:
            guard payload.count == 5, payload[0] == 0x0D else { return payload.isEmpty ? 0 : nil }
            return Int64(Int32(bitPattern: UInt32(truncatingIfNeeded: Self.number(payload[1...]))))
        case Self.longTypeName?:
            guard payload.count == 9, payload[0] == 0x09 else { return payload.isEmpty ? 0 : nil }
            return Int64(bitPattern: Self.number(payload[1...]))
        default:
            return nil
        }
    }

    private static func littleEndian(_ value: UInt64, count: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }
    }

    private static func number(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        bytes.reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }
}
