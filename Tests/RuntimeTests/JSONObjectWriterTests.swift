import Foundation
@testable import Runtime
import Testing

@Suite struct JSONObjectWriterTests {
    struct Decoded: Decodable, Equatable {
        var text: String
        var number: Int64
        var list: [String]
    }

    /// Every control character, quotes, backslashes, slashes and multi-byte UTF-8 come back as written.
    @Test func awkwardStringsSurviveARoundTripThroughJSONDecoder() throws {
        let controls = String(decoding: (0..<0x20).map { UInt8($0) }, as: UTF8.self)
        let awkward = "\"quoted\" back\\slash /slash é 😀 " + controls
        var writer = JSONObjectWriter()
        writer.field("text", awkward)
        writer.field("number", -42)
        writer.field("list", ["", awkward, "plain"])
        let decoded = try JSONDecoder().decode(Decoded.self, from: Data(writer.finished()))
        #expect(decoded == Decoded(text: awkward, number: -42, list: ["", awkward, "plain"]))
    }

    @Test func anEmptyObjectAndAnEmptyListAreValid() throws {
        #expect(JSONObjectWriter().finished() == Array("{}".utf8))
        var writer = JSONObjectWriter()
        writer.field("list", [])
        #expect(writer.finished() == Array("{\"list\":[]}".utf8))
    }
}
