/// Checks that bytes are one JSON document (RFC 8259; any value at the top, as with
/// `JSONSerialization`'s `.fragmentsAllowed`) without building it: a single pass that allocates
/// nothing but its nesting stack. Ingress bindings with the `.json` codec check every record
/// with it, so a value that is not JSON goes to the dead letters instead of to a function.
///
/// Strings must be valid UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF);
/// `\u` escapes are checked for their four hex digits only. Nesting deeper than `maxDepth`
/// counts as invalid, and so does a comma before a closing bracket or brace (which
/// `JSONSerialization` lets through).
enum JSONSyntax {
    static let maxDepth = 512

    static func isValid(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer { buffer in
            var scanner = Scanner(bytes: buffer)
            return scanner.document()
        }
    }

    private struct Scanner {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0
        /// Open containers, innermost last: true for an object, false for an array.
        var open: [Bool] = []

        init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

        var current: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func skipSpace() {
            while let byte = current, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { index += 1 }
        }

        mutating func take(_ byte: UInt8) -> Bool {
            guard current == byte else { return false }
            index += 1
            return true
        }

        mutating func document() -> Bool {
            while true {
                skipSpace()
                guard let byte = current else { return false }
                switch byte {
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    index += 1
                    skipSpace()
                    let object = byte == UInt8(ascii: "{")
                    guard open.count < JSONSyntax.maxDepth else { return false }
                    if take(object ? UInt8(ascii: "}") : UInt8(ascii: "]")) { break }
                    open.append(object)
                    if object, !key() { return false }
                    continue
                case UInt8(ascii: "\""):
                    guard string() else { return false }
                case UInt8(ascii: "t"): guard literal("true") else { return false }
                case UInt8(ascii: "f"): guard literal("false") else { return false }
                case UInt8(ascii: "n"): guard literal("null") else { return false }
                default:
                    guard number() else { return false }
                }
                // A value ended: close containers, or go on to the next element.
                guard let next = afterValue() else { return false }
                if !next { return true }
            }
        }

        /// After a value: false when the document ended well, true when another value
        /// follows, nil when the bytes are not JSON.
        mutating func afterValue() -> Bool? {
            while true {
                skipSpace()
                guard let object = open.last else { return index == bytes.count ? false : nil }
                if take(UInt8(ascii: ",")) {
                    if object { skipSpace(); return key() ? true : nil }
                    return true
                }
                guard take(object ? UInt8(ascii: "}") : UInt8(ascii: "]")) else { return nil }
                open.removeLast()
            }
        }

        /// A member's name and its colon.
        mutating func key() -> Bool {
            guard current == UInt8(ascii: "\""), string() else { return false }
            skipSpace()
            return take(UInt8(ascii: ":"))
        }

        mutating func literal(_ word: StaticString) -> Bool {
            let count = word.utf8CodeUnitCount
            guard bytes.count - index >= count else { return false }
            for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] { return false }
            index += count
            return true
        }

        mutating func digits() -> Bool {
            let start = index
            while let byte = current, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") { index += 1 }
            return index > start
        }

        mutating func number() -> Bool {
            _ = take(UInt8(ascii: "-"))
            if !take(UInt8(ascii: "0")) {
                guard let byte = current, byte >= UInt8(ascii: "1"), byte <= UInt8(ascii: "9"), digits() else { return false }
            }
            if take(UInt8(ascii: ".")), !digits() { return false }
            if take(UInt8(ascii: "e")) || take(UInt8(ascii: "E")) {
                if !take(UInt8(ascii: "+")) { _ = take(UInt8(ascii: "-")) }
                return digits()
            }
            return true
        }

        /// A string from its opening quote through its closing one.
        mutating func string() -> Bool {
            index += 1
            while let byte = current {
                index += 1
                switch byte {
                case UInt8(ascii: "\""): return true
                case UInt8(ascii: "\\"): guard escape() else { return false }
                case ..<0x20: return false
                case ..<0x80: continue
                default: guard utf8Sequence(lead: byte) else { return false }
                }
            }
            return false
        }

        mutating func escape() -> Bool {
            guard let byte = current else { return false }
            index += 1
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                 UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                return true
            case UInt8(ascii: "u"):
                guard bytes.count - index >= 4 else { return false }
                for _ in 0..<4 {
                    guard Self.isHexDigit(bytes[index]) else { return false }
                    index += 1
                }
                return true
            default:
                return false
            }
        }

        static func isHexDigit(_ byte: UInt8) -> Bool {
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
                || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(byte)
        }

        /// The continuation bytes of a UTF-8 sequence whose `lead` byte was just read
        /// (Unicode's table of well-formed sequences).
        mutating func utf8Sequence(lead: UInt8) -> Bool {
            let count: Int
            var second: ClosedRange<UInt8> = 0x80...0xBF
            switch lead {
            case 0xC2...0xDF: count = 1
            case 0xE0: count = 2; second = 0xA0...0xBF
            case 0xE1...0xEC, 0xEE...0xEF: count = 2
            case 0xED: count = 2; second = 0x80...0x9F
            case 0xF0: count = 3; second = 0x90...0xBF
            case 0xF1...0xF3: count = 3
            case 0xF4: count = 3; second = 0x80...0x8F
            default: return false
            }
            guard bytes.count - index >= count, second.contains(bytes[index]) else { return false }
            for offset in 1..<count where !(0x80...0xBF).contains(bytes[index + offset]) { return false }
            index += count
            return true
        }
    }
}
