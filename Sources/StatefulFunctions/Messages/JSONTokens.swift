/// A JSON document parsed into a flat list of tokens, one per value (an object's member is
/// its name's token followed by its value's), in document order. Strings and numbers stay
/// bytes of the document until they are decoded, so a member nobody asks for costs a scan.
/// `JSONCodec` decodes from it.
final class JSONTokens {
    enum Kind: UInt8 {
        case object, array, string, number, `true`, `false`, null
    }

    struct Token {
        var kind: Kind
        /// A string: it has escapes or bytes above ASCII (so it needs more than a copy). A
        /// number: it has a fraction or an exponent.
        var flag: Bool
        /// A string: its bytes between the quotes; a number: its text.
        var start: Int32
        var end: Int32
        /// A container: its elements (members for an object).
        var count: Int32
        /// The token after this value and everything inside it.
        var next: Int32
    }

    static let maxDepth = 512

    let bytes: [UInt8]
    let tokens: [Token]

    /// Parses `bytes` (RFC 8259, any value at the top); throws `DecodingError.dataCorrupted`
    /// when they are not one JSON document.
    init(_ bytes: [UInt8]) throws {
        self.bytes = bytes
        var tokens: [Token] = []
        tokens.reserveCapacity(bytes.count / 6 + 2)
        var parser = Parser(count: bytes.count)
        let outcome = bytes.withUnsafeBufferPointer { buffer in parser.document(buffer, into: &tokens) }
        self.tokens = tokens
        if let problem = outcome {
            throw DecodingError.dataCorrupted(DecodingError.Context(codingPath: [], debugDescription:
                "The given data was not valid JSON: \(problem) at byte \(parser.index)."))
        }
    }

    /// The bytes of a string or number token.
    func text(_ token: Token) -> ArraySlice<UInt8> { bytes[Int(token.start)..<Int(token.end)] }

    private struct Parser {
        let count: Int
        var index = 0
        /// Open containers' tokens, innermost last.
        var open: [Int] = []

        /// Parses the document; nil when it is one, else what is wrong.
        mutating func document(_ bytes: UnsafeBufferPointer<UInt8>, into tokens: inout [Token]) -> String? {
            while true {
                skipSpace(bytes)
                guard index < count else { return "unexpected end" }
                let byte = bytes[index]
                switch byte {
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    guard open.count < JSONTokens.maxDepth else { return "nested too deeply" }
                    let object = byte == UInt8(ascii: "{")
                    index += 1
                    open.append(tokens.count)
                    tokens.append(Token(kind: object ? .object : .array, flag: false, start: 0, end: 0, count: 0, next: 0))
                    skipSpace(bytes)
                    if index < count, bytes[index] == (object ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                        index += 1
                        close(&tokens)
                    } else {
                        tokens[open[open.count - 1]].count = 1
                        if object, let problem = key(bytes, into: &tokens) { return problem }
                        continue
                    }
                case UInt8(ascii: "\""):
                    if let problem = string(bytes, into: &tokens) { return problem }
                case UInt8(ascii: "t"): if let problem = literal(bytes, "true", .true, into: &tokens) { return problem }
                case UInt8(ascii: "f"): if let problem = literal(bytes, "false", .false, into: &tokens) { return problem }
                case UInt8(ascii: "n"): if let problem = literal(bytes, "null", .null, into: &tokens) { return problem }
                default:
                    if let problem = number(bytes, into: &tokens) { return problem }
                }
                // A value ended: close containers, or go on to the next element.
                switch afterValue(bytes, into: &tokens) {
                case .success(true): continue
                case .success(false): return nil
                case .failure(let problem): return problem.description
                }
            }
        }

        struct Problem: Error, CustomStringConvertible {
            let description: String
        }

        /// After a value: true when another element follows, false when the document ended.
        mutating func afterValue(_ bytes: UnsafeBufferPointer<UInt8>, into tokens: inout [Token]) -> Result<Bool, Problem> {
            while true {
                skipSpace(bytes)
                guard let container = open.last else {
                    return index == count ? .success(false) : .failure(Problem(description: "more after the document"))
                }
                guard index < count else { return .failure(Problem(description: "unexpected end")) }
                let object = tokens[container].kind == .object
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                    tokens[container].count += 1
                    if object {
                        skipSpace(bytes)
                        if let problem = key(bytes, into: &tokens) { return .failure(Problem(description: problem)) }
                    }
                    return .success(true)
                }
                guard bytes[index] == (object ? UInt8(ascii: "}") : UInt8(ascii: "]")) else {
                    return .failure(Problem(description: object ? "expected , or }" : "expected , or ]"))
                }
                index += 1
                close(&tokens)
            }
        }

        mutating func close(_ tokens: inout [Token]) {
            tokens[open.removeLast()].next = Int32(tokens.count)
        }

        mutating func skipSpace(_ bytes: UnsafeBufferPointer<UInt8>) {
            while index < count {
                switch bytes[index] {
                case 0x20, 0x0A, 0x0D, 0x09: index += 1
                default: return
                }
            }
        }

        /// A member's name and its colon.
        mutating func key(_ bytes: UnsafeBufferPointer<UInt8>, into tokens: inout [Token]) -> String? {
            guard index < count, bytes[index] == UInt8(ascii: "\"") else { return "expected a member name" }
            if let problem = string(bytes, into: &tokens) { return problem }
            skipSpace(bytes)
            guard index < count, bytes[index] == UInt8(ascii: ":") else { return "expected :" }
            index += 1
            return nil
        }

        mutating func literal(_ bytes: UnsafeBufferPointer<UInt8>, _ word: StaticString, _ kind: Kind,
                              into tokens: inout [Token]) -> String? {
            let length = word.utf8CodeUnitCount
            guard count - index >= length else { return "unexpected end" }
            for offset in 0..<length where bytes[index + offset] != word.utf8Start[offset] { return "invalid literal" }
            index += length
            tokens.append(Token(kind: kind, flag: false, start: 0, end: 0, count: 0, next: Int32(tokens.count + 1)))
            return nil
        }

        mutating func digits(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
            let start = index
            while index < count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") { index += 1 }
            return index > start
        }

        mutating func take(_ bytes: UnsafeBufferPointer<UInt8>, _ byte: UInt8) -> Bool {
            guard index < count, bytes[index] == byte else { return false }
            index += 1
            return true
        }

        mutating func number(_ bytes: UnsafeBufferPointer<UInt8>, into tokens: inout [Token]) -> String? {
            let start = index
            _ = take(bytes, UInt8(ascii: "-"))
            if !take(bytes, UInt8(ascii: "0")) {
                guard index < count, bytes[index] >= UInt8(ascii: "1"), bytes[index] <= UInt8(ascii: "9") else { return "invalid value" }
                _ = digits(bytes)
            }
            var fractional = false
            if take(bytes, UInt8(ascii: ".")) {
                guard digits(bytes) else { return "invalid number" }
                fractional = true
            }
            if take(bytes, UInt8(ascii: "e")) || take(bytes, UInt8(ascii: "E")) {
                if !take(bytes, UInt8(ascii: "+")) { _ = take(bytes, UInt8(ascii: "-")) }
                guard digits(bytes) else { return "invalid number" }
                fractional = true
            }
            tokens.append(Token(kind: .number, flag: fractional, start: Int32(start), end: Int32(index), count: 0,
                                next: Int32(tokens.count + 1)))
            return nil
        }

        /// A string from its opening quote through its closing one: its escapes and its UTF-8
        /// are checked here, the escapes' meaning when it is decoded.
        mutating func string(_ bytes: UnsafeBufferPointer<UInt8>, into tokens: inout [Token]) -> String? {
            index += 1
            let start = index
            var escapes = false, ascii = true
            while index < count {
                let byte = bytes[index]
                switch byte {
                case UInt8(ascii: "\""):
                    if !ascii, String(validating: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self) == nil {
                        return "invalid UTF-8 in a string"
                    }
                    tokens.append(Token(kind: .string, flag: escapes || !ascii, start: Int32(start), end: Int32(index), count: 0,
                                        next: Int32(tokens.count + 1)))
                    index += 1
                    return nil
                case UInt8(ascii: "\\"):
                    escapes = true
                    guard escape(bytes) else { return "invalid escape in a string" }
                case ..<0x20:
                    return "control character in a string"
                case ..<0x80:
                    index += 1
                default:
                    ascii = false
                    index += 1
                }
            }
            return "unterminated string"
        }

        /// An escape, from its backslash.
        mutating func escape(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
            guard count - index >= 2 else { return false }
            switch bytes[index + 1] {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                 UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                index += 2
                return true
            case UInt8(ascii: "u"):
                guard count - index >= 6, (2..<6).allSatisfy({ JSONTokens.hexDigit(bytes[index + $0]) != nil }) else { return false }
                index += 6
                return true
            default:
                return false
            }
        }
    }
}
