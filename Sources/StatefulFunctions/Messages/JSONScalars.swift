import Foundation

/// A coding path as a chain from the innermost key out; made into `[CodingKey]` only when
/// someone asks (an error, a type that reads its path).
final class CodingPathNode {
    let key: any CodingKey
    let parent: CodingPathNode?

    init(_ key: any CodingKey, parent: CodingPathNode?) {
        self.key = key
        self.parent = parent
    }

    static func keys(_ node: CodingPathNode?, then last: (any CodingKey)? = nil) -> [any CodingKey] {
        var keys: [any CodingKey] = last.map { [$0] } ?? []
        var node = node
        while let current = node {
            keys.append(current.key)
            node = current.parent
        }
        return keys.reversed()
    }
}

/// The key of an array element in a coding path, as Foundation names it.
struct IndexCodingKey: CodingKey {
    let intValue: Int?
    var stringValue: String { "Index \(intValue ?? 0)" }

    init(_ index: Int) { intValue = index }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { self.intValue = intValue }
}

/// The scalar values of a parsed document, decoded as Foundation's `JSONDecoder` would.
extension JSONTokens {
    func isNull(_ index: Int) -> Bool { tokens[index].kind == .null }

    func string(at index: Int, path: @autoclosure () -> [any CodingKey]) throws -> String {
        let token = tokens[index]
        guard token.kind == .string else { throw mismatch(String.self, index, path()) }
        if !token.flag { return String(decoding: text(token), as: UTF8.self) }
        guard let string = unescaped(token) else {
            throw DecodingError.dataCorrupted(.init(codingPath: path(), debugDescription: "Invalid string: bad escape or UTF-8."))
        }
        return string
    }

    func bool(at index: Int, path: @autoclosure () -> [any CodingKey]) throws -> Bool {
        switch tokens[index].kind {
        case .true: true
        case .false: false
        default: throw mismatch(Bool.self, index, path())
        }
    }

    func integer<T: FixedWidthInteger>(_ type: T.Type, at index: Int, path: @autoclosure () -> [any CodingKey]) throws -> T {
        let token = tokens[index]
        guard token.kind == .number else { throw mismatch(T.self, index, path()) }
        if !token.flag, let value = Self.parseInteger(T.self, text(token)) { return value }
        if token.flag, let double = Double(String(decoding: text(token), as: UTF8.self)), let value = T(exactly: double) {
            return value
        }
        throw DecodingError.dataCorrupted(.init(codingPath: path(), debugDescription:
            "Parsed JSON number <\(String(decoding: text(token), as: UTF8.self))> does not fit in \(T.self)."))
    }

    func floatingPoint<T: BinaryFloatingPoint & LosslessStringConvertible>(_ type: T.Type, at index: Int,
                                                                          path: @autoclosure () -> [any CodingKey]) throws -> T {
        let token = tokens[index]
        guard token.kind == .number else { throw mismatch(T.self, index, path()) }
        if !token.flag, let integer = Self.parseInteger(Int64.self, text(token)), integer.magnitude < 1 << 53 { return T(integer) }
        let text = String(decoding: text(token), as: UTF8.self)
        guard let value = T(text), value.isFinite else {
            throw DecodingError.dataCorrupted(.init(codingPath: path(), debugDescription: "Parsed JSON number <\(text)> does not fit in \(T.self)."))
        }
        return value
    }

    /// The text of a number token, for types that parse it themselves (`Decimal`).
    func numberText(at index: Int, as type: Any.Type, path: @autoclosure () -> [any CodingKey]) throws -> String {
        guard tokens[index].kind == .number else { throw mismatch(type, index, path()) }
        return String(decoding: text(tokens[index]), as: UTF8.self)
    }

    func mismatch(_ type: Any.Type, _ index: Int, _ path: [any CodingKey]) -> DecodingError {
        let kind = tokens[index].kind
        guard kind != .null else {
            return .valueNotFound(type, .init(codingPath: path, debugDescription: "Expected \(type) value but found null instead."))
        }
        let found = switch kind {
        case .object: "a dictionary"
        case .array: "an array"
        case .string: "a string"
        case .number: "a number"
        case .true, .false: "bool"
        case .null: "null"
        }
        return .typeMismatch(type, .init(codingPath: path, debugDescription: "Expected to decode \(type) but found \(found) instead."))
    }

    /// Digits with an optional minus sign, exactly, or nil when they do not fit.
    static func parseInteger<T: FixedWidthInteger>(_ type: T.Type, _ text: ArraySlice<UInt8>) -> T? {
        var index = text.startIndex
        let negative = text[index] == UInt8(ascii: "-")
        if negative { index += 1 }
        var value: T = 0
        while index < text.endIndex {
            let digit = T(text[index] &- UInt8(ascii: "0"))
            let (shifted, overflow) = value.multipliedReportingOverflow(by: 10)
            let (next, overflow2) = negative ? shifted.subtractingReportingOverflow(digit) : shifted.addingReportingOverflow(digit)
            guard !overflow, !overflow2 else { return nil }
            value = next
            index += 1
        }
        return value
    }

    /// A string token with escapes or non-ASCII bytes as a string (the parser checked its UTF-8
    /// and the form of its escapes); nil when a `\\u` escape is a lone surrogate.
    func unescaped(_ token: Token) -> String? {
        let text = text(token)
        guard text.contains(UInt8(ascii: "\\")) else { return String(decoding: text, as: UTF8.self) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.count)
        var index = text.startIndex
        while index < text.endIndex {
            let byte = text[index]
            index += 1
            guard byte == UInt8(ascii: "\\") else {
                bytes.append(byte)
                continue
            }
            switch text[index] {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): bytes.append(text[index])
            case UInt8(ascii: "b"): bytes.append(0x08)
            case UInt8(ascii: "f"): bytes.append(0x0C)
            case UInt8(ascii: "n"): bytes.append(0x0A)
            case UInt8(ascii: "r"): bytes.append(0x0D)
            case UInt8(ascii: "t"): bytes.append(0x09)
            case UInt8(ascii: "u"):
                guard let scalar = Self.unicodeEscape(text, at: &index) else { return nil }
                bytes.append(contentsOf: String(Character(scalar)).utf8)
                continue
            default: return nil
            }
            index += 1
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The scalar of `\uXXXX` (or of a surrogate pair `\uXXXX\uXXXX`), with `index` at its `u`;
    /// moves `index` past it.
    static func unicodeEscape(_ text: ArraySlice<UInt8>, at index: inout Int) -> Unicode.Scalar? {
        func hex(at start: Int) -> UInt32? {
            guard text.endIndex - start >= 4 else { return nil }
            var value: UInt32 = 0
            for byte in text[start..<start + 4] {
                guard let digit = hexDigit(byte) else { return nil }
                value = value << 4 | digit
            }
            return value
        }
        guard let first = hex(at: index + 1) else { return nil }
        index += 5
        guard (0xD800...0xDBFF).contains(first) else { return Unicode.Scalar(first) }
        guard text.endIndex - index >= 6, text[index] == UInt8(ascii: "\\"), text[index + 1] == UInt8(ascii: "u"),
              let second = hex(at: index + 2), (0xDC00...0xDFFF).contains(second) else { return nil }
        index += 6
        return Unicode.Scalar(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00))
    }

    static func hexDigit(_ byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    /// Calls `body` with the name and value tokens of each member of `object`, in order.
    func forEachMember(of object: Int, _ body: (_ name: Int, _ value: Int) -> Void) {
        var name = object + 1
        let end = Int(tokens[object].next)
        while name < end {
            body(name, name + 1)
            name = Int(tokens[name + 1].next)
        }
    }

    /// The value token of the member of `object` named `name` (the last, if several are).
    func member(named name: String, in object: Int) -> Int? {
        var name = name, found: Int?
        name.withUTF8 { name in
            bytes.withUnsafeBufferPointer { all in
                forEachMember(of: object) { index, value in
                    let token = tokens[index]
                    let length = Int(token.end - token.start)
                    if token.flag {
                        if unescaped(token)?.utf8.elementsEqual(name) == true { found = value }
                    } else if length == name.count, length == 0 || memcmp(all.baseAddress! + Int(token.start), name.baseAddress!, length) == 0 {
                        found = value
                    }
                }
            }
        }
        return found
    }
}
