/// JSON for `Codable` values, about twice as fast as Foundation's `JSONEncoder` and
/// `JSONDecoder` (see `Benchmarks/InvocationThroughput`) with the same results for messages
/// and state:
/// - encoding writes object members sorted by name (UTF-8 byte order), so equal values give
///   equal bytes; "/" and non-ASCII are written as they are, control characters escaped; an
///   integral floating-point number without ".0"; `Data` as base64, `URL` as its string,
///   `Decimal` as a number, `Date` as its seconds since 2001 (Foundation's defaults).
///   Non-finite numbers throw `EncodingError.invalidValue`.
/// - decoding accepts any JSON value at the top and throws `DecodingError` as `JSONDecoder`
///   does (with the coding path); integers may be written as exact decimals (`100.0`,
///   `1e2`); of members with the same name the last counts.
enum JSONCodec {
    static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        var output = JSONOutput()
        output.write(try JSONNode.of(value, path: nil, key: nil))
        return output.bytes
    }

    static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        try JSONTokens(bytes).value(T.self, at: 0, path: nil, key: nil)
    }
}

/// JSON text being written. The runtime's log records share its strings.
package struct JSONOutput {
    package private(set) var bytes: [UInt8] = []

    package init(capacity: Int = 128) {
        bytes.reserveCapacity(capacity)
    }

    package mutating func append(_ byte: UInt8) { bytes.append(byte) }
    package mutating func append(_ text: String) { bytes.append(contentsOf: text.utf8) }

    /// A JSON string: quotes, backslashes and control characters escaped, other UTF-8 as is.
    package mutating func string(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            bytes.append(UInt8(ascii: "\""))
            // Most strings (ids, addresses, names) need no escape: copied at once.
            if utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
                for byte in utf8 { escaped(byte) }
            } else {
                bytes.append(contentsOf: utf8)
            }
            bytes.append(UInt8(ascii: "\""))
        }
    }

    /// Appends `byte` of a string, escaped if JSON requires it.
    private mutating func escaped(_ byte: UInt8) {
        switch byte {
        case UInt8(ascii: "\""): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
        case UInt8(ascii: "\\"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
        case UInt8(ascii: "\n"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
        case UInt8(ascii: "\r"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
        case UInt8(ascii: "\t"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
        case 0x08: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "b")]
        case 0x0C: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "f")]
        case 0..<0x20:
            let hex = Array("0123456789abcdef".utf8)
            bytes += Array("\\u00".utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
        default: bytes.append(byte)
        }
    }

    mutating func write(_ node: JSONNode) {
        switch node {
        case .null: append("null")
        case .bool(let value): append(value ? "true" : "false")
        case .int(let value): append(String(value))
        case .uint(let value): append(String(value))
        case .number(let text): append(text)
        case .string(let value): string(value)
        case .array(let array):
            append(UInt8(ascii: "["))
            for (index, item) in array.items.enumerated() {
                if index > 0 { append(UInt8(ascii: ",")) }
                write(item)
            }
            append(UInt8(ascii: "]"))
        case .object(let object): write(object)
        case .encoder(let encoder): write(encoder.node ?? .object(JSONObjectNode()))
        }
    }

    private mutating func write(_ object: JSONObjectNode) {
        let members = object.members
        var order = Array(members.indices)
        if members.count > 1 {
            order.sort { left, right in
                let (a, b) = (members[left].name, members[right].name)
                return a.utf8.elementsEqual(b.utf8) ? left < right : a.utf8.lexicographicallyPrecedes(b.utf8)
            }
        }
        append(UInt8(ascii: "{"))
        var first = true
        for (position, index) in order.enumerated() {
            // Of equal names, the last encoded (the last of the run) counts.
            if position + 1 < order.count, members[order[position + 1]].name.utf8.elementsEqual(members[index].name.utf8) { continue }
            if !first { append(UInt8(ascii: ",")) }
            first = false
            string(members[index].name)
            append(UInt8(ascii: ":"))
            write(members[index].value)
        }
        append(UInt8(ascii: "}"))
    }
}
