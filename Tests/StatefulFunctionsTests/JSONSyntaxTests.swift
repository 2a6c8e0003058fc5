import Foundation
@testable import StatefulFunctions
import Testing

struct JSONSyntaxTests {
    static let valid = [
        "0", "-0", "12.5e-3", "1E+2", "-7.25", "true", "false", "null", "\"\"", "  \"a\\u00e9\\n\\\"\\/\"\t",
        "{}", "[]", "[ ]", "{ }", "[1,[2,[3,{}]]]", "{\"a\":{\"b\":[true,null,\"x\"]},\"c\":-1}",
        "{\"request_id\":\"r-1\",\"op\":\"transfer\",\"from\":\"user1\",\"to\":\"user2\",\"amount\":3}",
        "\"héllo wörld €𝄞\"",
    ]
    static let invalid = [
        "", " ", "01", "1.", ".5", "-", "+1", "1e", "1e+", "0x10", "tru", "nul", "True", "[1,]", "{\"a\":1,}", "[1 2]",
        "{\"a\" 1}", "{a:1}", "{\"a\":}", "[", "]", "{", "}", "\"abc", "\"a\\x\"", "\"\\u12g4\"", "\"\\u12\"",
        "\"tab\there\"", "1 2", "{}{}", "[]]", "{\"a\":1}}", "nan", "[1,2", "{\"a\":[}]",
    ]

    @Test func acceptsJSONDocuments() {
        for text in Self.valid { #expect(JSONSyntax.isValid(Array(text.utf8)), "\(text)") }
    }

    @Test func rejectsWhatIsNotJSON() {
        for text in Self.invalid { #expect(!JSONSyntax.isValid(Array(text.utf8)), "\(text)") }
    }

    @Test func rejectsMalformedUTF8InStrings() {
        let cases: [[UInt8]] = [
            [0x22, 0xC3, 0x22],              // a lead byte without its continuation
            [0x22, 0xC0, 0xAF, 0x22],        // overlong "/"
            [0x22, 0xED, 0xA0, 0x80, 0x22],  // a surrogate
            [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22],  // above U+10FFFF
            [0x22, 0x80, 0x22],              // a lone continuation byte
        ]
        for bytes in cases { #expect(!JSONSyntax.isValid(bytes), "\(bytes)") }
        #expect(JSONSyntax.isValid([0x22, 0xF0, 0x9D, 0x84, 0x9E, 0x22]))
    }

    @Test func limitsNesting() {
        let deep = String(repeating: "[", count: JSONSyntax.maxDepth) + String(repeating: "]", count: JSONSyntax.maxDepth)
        #expect(JSONSyntax.isValid(Array(deep.utf8)))
        let deeper = "[" + deep + "]"
        #expect(!JSONSyntax.isValid(Array(deeper.utf8)))
    }

    /// Every document of `valid` with one byte deleted, replaced or inserted: the check agrees
    /// with `JSONSerialization` on each, except where a comma comes before a closing bracket or
    /// brace (not JSON, which `JSONSerialization` accepts).
    @Test func agreesWithJSONSerializationOnMutatedDocuments() {
        let alphabet = Array("{}[]\",:0123456789.-+eEtrufalsn \\u".utf8)
        var generator = SystemRandomNumberGenerator()
        var compared = 0
        for text in Self.valid {
            let original = Array(text.utf8)
            for _ in 0..<200 {
                var bytes = original
                let position = Int.random(in: 0...bytes.count, using: &generator)
                switch Int.random(in: 0..<3, using: &generator) {
                case 0 where position < bytes.count: bytes.remove(at: position)
                case 1 where position < bytes.count: bytes[position] = alphabet.randomElement(using: &generator)!
                default: bytes.insert(alphabet.randomElement(using: &generator)!, at: position)
                }
                let foundation = (try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])) != nil
                if foundation, Self.hasTrailingComma(bytes) {
                    #expect(!JSONSyntax.isValid(bytes))
                    continue
                }
                #expect(JSONSyntax.isValid(bytes) == foundation, "\(String(decoding: bytes, as: UTF8.self))")
                compared += 1
            }
        }
        #expect(compared > Self.valid.count * 150)
    }

    static func hasTrailingComma(_ bytes: [UInt8]) -> Bool {
        let significant = bytes.filter { ![0x20, 0x0A, 0x0D, 0x09].contains($0) }
        return zip(significant, significant.dropFirst()).contains { $0 == UInt8(ascii: ",") && ($1 == UInt8(ascii: "]") || $1 == UInt8(ascii: "}")) }
    }
}
