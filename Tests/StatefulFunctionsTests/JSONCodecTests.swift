import Foundation
@testable import StatefulFunctions
import Testing

/// A record with the shapes a message usually has.
private struct Sample: Codable, Equatable {
    enum Color: String, Codable { case red, green }
    enum Level: Int, Codable { case low = 1, high = 10 }
    enum Shape: Codable, Equatable { case circle(radius: Double), rectangle(Double, Double), point }
    struct Inner: Codable, Equatable { var label: String, weight: Double? }

    var id: String, note: String?, count: Int?
    var inner: Inner, inners: [Inner]
    var labels: [String: String], totals: [String: Int], names: [Int: String]
    var color: Color, level: Level, shapes: [Shape]
    var grid: [[Int]], cube: [[[String]]], maybes: [Int?]

    static var full: Sample {
        Sample(
            id: "s-1", note: "a note", count: 0, inner: Inner(label: "in", weight: 2.5),
            inners: [Inner(label: "a", weight: nil), Inner(label: "b", weight: -1)],
            labels: ["b": "2", "a": "1", "": "empty"], totals: ["x": 1, "y": -2],
            names: [1: "one", 10: "ten", -3: "minus three"], color: .green, level: .high,
            shapes: [.circle(radius: 1.5), .rectangle(2, 3), .point], grid: [[1, 2], [], [3]],
            cube: [[["a"], []], []], maybes: [1, nil, 3])
    }
}

/// Every integer width.
private struct Widths: Codable, Equatable {
    var i: Int, i8: Int8, i16: Int16, i32: Int32, i64: Int64
    var u: UInt, u8: UInt8, u16: UInt16, u32: UInt32, u64: UInt64

    static var lowest: Widths { Widths(i: .min, i8: .min, i16: .min, i32: .min, i64: .min, u: .min, u8: .min, u16: .min, u32: .min, u64: .min) }
    static var highest: Widths { Widths(i: .max, i8: .max, i16: .max, i32: .max, i64: .max, u: .max, u8: .max, u16: .max, u32: .max, u64: .max) }
}

/// The types Foundation's coders treat specially, in a keyed and in unkeyed containers.
private struct Attachments: Codable, Equatable {
    var data: Data, date: Date, url: URL, amount: Decimal, id: UUID, link: URL?
    var amounts: [Decimal], dates: [Date], blobs: [String: Data]
}

/// Declared with `b` before `a`.
private struct Pair: Codable, Equatable { var b: Int, a: String, c: Double?, d: Double }
private struct Order: Codable, Equatable { var id: String, amount: Int }
private struct Basket: Codable, Equatable { var owner: String, orders: [Order], note: String? }
private struct Empty: Codable, Equatable {}
private struct Point: Equatable { var x: Int, y: Int }

/// Written by hand through nested containers: a keyed one for the origin, an unkeyed one of
/// keyed ones for the points, an unkeyed one of unkeyed ones for the grid, and an unkeyed one
/// inside a keyed one for the tags.
private struct Polygon: Codable, Equatable {
    var name: String, origin: Point, points: [Point], grid: [[Int]], tags: [String]

    enum Keys: String, CodingKey { case name, origin, points, grid, meta }
    enum PointKeys: String, CodingKey { case x, y }
    enum MetaKeys: String, CodingKey { case count, tags }

    static var sample: Polygon {
        Polygon(name: "p", origin: Point(x: 0, y: -1), points: [Point(x: 1, y: 2), Point(x: 3, y: 4)], grid: [[1, 2], []], tags: ["a", "b"])
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(name, forKey: .name)
        var origin = container.nestedContainer(keyedBy: PointKeys.self, forKey: .origin)
        try origin.encode(self.origin.x, forKey: .x)
        try origin.encode(self.origin.y, forKey: .y)
        var points = container.nestedUnkeyedContainer(forKey: .points)
        for point in self.points {
            var pair = points.nestedContainer(keyedBy: PointKeys.self)
            try pair.encode(point.x, forKey: .x)
            try pair.encode(point.y, forKey: .y)
        }
        var grid = container.nestedUnkeyedContainer(forKey: .grid)
        for row in self.grid {
            var values = grid.nestedUnkeyedContainer()
            for value in row { try values.encode(value) }
        }
        var meta = container.nestedContainer(keyedBy: MetaKeys.self, forKey: .meta)
        var tags = meta.nestedUnkeyedContainer(forKey: .tags)
        for tag in self.tags { try tags.encode(tag) }
        try meta.encode(self.points.count, forKey: .count)
    }
}

extension Polygon {
    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Keys.self)
        name = try container.decode(String.self, forKey: .name)
        let origin = try container.nestedContainer(keyedBy: PointKeys.self, forKey: .origin)
        self.origin = Point(x: try origin.decode(Int.self, forKey: .x), y: try origin.decode(Int.self, forKey: .y))
        var points = try container.nestedUnkeyedContainer(forKey: .points)
        var list: [Point] = []
        while !points.isAtEnd {
            let pair = try points.nestedContainer(keyedBy: PointKeys.self)
            list.append(Point(x: try pair.decode(Int.self, forKey: .x), y: try pair.decode(Int.self, forKey: .y)))
        }
        guard points.currentIndex == list.count, points.count == nil || points.count == list.count else {
            throw DecodingError.dataCorruptedError(in: points, debugDescription: "index or count differs from the points read")
        }
        self.points = list
        var grid = try container.nestedUnkeyedContainer(forKey: .grid)
        var rows: [[Int]] = []
        while !grid.isAtEnd {
            var row = try grid.nestedUnkeyedContainer()
            var values: [Int] = []
            while !row.isAtEnd { values.append(try row.decode(Int.self)) }
            rows.append(values)
        }
        self.grid = rows
        let meta = try container.nestedContainer(keyedBy: MetaKeys.self, forKey: .meta)
        guard try meta.decode(Int.self, forKey: .count) == list.count else {
            throw DecodingError.dataCorruptedError(forKey: .count, in: meta, debugDescription: "count differs from the points")
        }
        var tags = try meta.nestedUnkeyedContainer(forKey: .tags)
        var names: [String] = []
        while !tags.isAtEnd { names.append(try tags.decode(String.self)) }
        self.tags = names
    }
}

/// A base class that writes its own fields.
private class Vehicle: Codable {
    var wheels: Int
    enum VehicleKeys: String, CodingKey { case wheels }

    init(wheels: Int) { self.wheels = wheels }

    required init(from decoder: any Decoder) throws {
        wheels = try decoder.container(keyedBy: VehicleKeys.self).decode(Int.self, forKey: .wheels)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: VehicleKeys.self)
        try container.encode(wheels, forKey: .wheels)
    }
}

/// Its superclass under the key "super" of its keyed container.
private final class Truck: Vehicle {
    var load: Double
    enum TruckKeys: String, CodingKey { case load }

    init(wheels: Int, load: Double) { self.load = load; super.init(wheels: wheels) }

    required init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: TruckKeys.self)
        load = try container.decode(Double.self, forKey: .load)
        try super.init(from: container.superDecoder())
    }

    override func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: TruckKeys.self)
        try container.encode(load, forKey: .load)
        try super.encode(to: container.superEncoder())
    }
}

/// Its superclass as the next element of its unkeyed container.
private final class Bus: Vehicle {
    var seats: Int

    init(wheels: Int, seats: Int) { self.seats = seats; super.init(wheels: wheels) }

    required init(from decoder: any Decoder) throws {
        var container = try decoder.unkeyedContainer()
        seats = try container.decode(Int.self)
        try super.init(from: container.superDecoder())
    }

    override func encode(to encoder: any Encoder) throws {
        var container = encoder.unkeyedContainer()
        try container.encode(seats)
        try super.encode(to: container.superEncoder())
    }
}

/// Its superclass in the same object, through the same encoder and decoder.
private final class Van: Vehicle {
    var doors: Int
    enum VanKeys: String, CodingKey { case doors }

    init(wheels: Int, doors: Int) { self.doors = doors; super.init(wheels: wheels) }

    required init(from decoder: any Decoder) throws {
        doors = try decoder.container(keyedBy: VanKeys.self).decode(Int.self, forKey: .doors)
        try super.init(from: decoder)
    }

    override func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: VanKeys.self)
        try container.encode(doors, forKey: .doors)
        try super.encode(to: encoder)
    }
}

/// `value` decoded three ways, each named: JSONCodec from its own bytes, JSONCodec from the bytes
/// of Foundation's `JSONEncoder` (sorted keys, slashes escaped), and Foundation's `JSONDecoder`
/// from JSONCodec's bytes. A way that throws is an issue and is left out.
private func decodedThreeWays<T: Codable>(_ value: T, sourceLocation: SourceLocation = #_sourceLocation) -> [(way: String, value: T)] {
    var results: [(way: String, value: T)] = []
    func attempt(_ way: String, _ decode: () throws -> T) {
        do { results.append((way, try decode())) } catch { Issue.record("\(way): \(error)", sourceLocation: sourceLocation) }
    }
    let ours: [UInt8]
    do { ours = try JSONCodec.encode(value) } catch {
        Issue.record("JSONCodec.encode: \(error)", sourceLocation: sourceLocation)
        return []
    }
    #expect(JSONSyntax.isValid(ours), "not JSON: \(String(decoding: ours, as: UTF8.self))", sourceLocation: sourceLocation)
    attempt("JSONCodec from JSONCodec") { try JSONCodec.decode(T.self, from: ours) }
    attempt("JSONCodec from JSONEncoder") {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return try JSONCodec.decode(T.self, from: Array(encoder.encode(value)))
    }
    attempt("JSONDecoder from JSONCodec") { try JSONDecoder().decode(T.self, from: Data(ours)) }
    return results
}

/// Each of the three ways of `decodedThreeWays` gives back `value`.
private func roundTrip<T: Codable & Equatable>(_ value: T, sourceLocation: SourceLocation = #_sourceLocation) {
    for (way, decoded) in decodedThreeWays(value, sourceLocation: sourceLocation) {
        #expect(decoded == value, "\(way)", sourceLocation: sourceLocation)
    }
}

/// JSONCodec's bytes of `value` as text.
private func text<T: Encodable>(_ value: T) throws -> String {
    String(decoding: try JSONCodec.encode(value), as: UTF8.self)
}

private func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
    try JSONCodec.decode(type, from: Array(text.utf8))
}

/// The error of decoding `bytes` as `type`; nil, with an issue, when it decodes or throws another error.
private func decodingError<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> DecodingError? {
    do {
        let value = try JSONCodec.decode(type, from: bytes)
        Issue.record("decoded \(value) from \(String(decoding: bytes.prefix(200), as: UTF8.self))", sourceLocation: sourceLocation)
    } catch let error as DecodingError {
        return error
    } catch {
        Issue.record("not a DecodingError: \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

private func decodingError<T: Decodable>(_ type: T.Type, _ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> DecodingError? {
    decodingError(type, Array(text.utf8), sourceLocation: sourceLocation)
}

/// Whether `body` throws `EncodingError.invalidValue`.
private func throwsInvalidValue(_ body: () throws -> [UInt8]) -> Bool {
    do {
        _ = try body()
        return false
    } catch let error as EncodingError {
        if case .invalidValue = error { return true }
        return false
    } catch {
        return false
    }
}

private extension DecodingError {
    var caseName: String {
        switch self {
        case .typeMismatch: return "typeMismatch"
        case .valueNotFound: return "valueNotFound"
        case .keyNotFound: return "keyNotFound"
        case .dataCorrupted: return "dataCorrupted"
        @unknown default: return "unknown"
        }
    }

    var context: Context? {
        switch self {
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .keyNotFound(_, let context): return context
        case .dataCorrupted(let context): return context
        @unknown default: return nil
        }
    }

    /// The coding path, an index written as its number.
    var path: [String] {
        (context?.codingPath ?? []).map { key in key.intValue.map { "\($0)" } ?? key.stringValue }
    }

    var missingKey: String? {
        if case .keyNotFound(let key, _) = self { return key.stringValue }
        return nil
    }
}

/// `JSONCodec`: values go back and forth through it and through Foundation's coders unchanged,
/// its bytes are the specified ones, and it fails where Foundation's decoder fails.
struct JSONCodecTests {
    @Test func structsWithSynthesizedCodableRoundTrip() {
        roundTrip(Sample.full)
        var sparse = Sample.full
        sparse.note = nil
        sparse.count = nil
        sparse.inner.weight = nil
        sparse.labels = [:]
        sparse.names = [:]
        sparse.maybes = [nil]
        roundTrip(sparse)
        roundTrip([Sample.full, sparse])
        roundTrip(Sample.Shape.rectangle(-1, 0.5))
        roundTrip(Polygon.sample)
        roundTrip(Polygon(name: "", origin: Point(x: .min, y: .max), points: [], grid: [], tags: []))
    }

    @Test func integersOfEveryWidthRoundTripAtTheirLimits() {
        roundTrip(Widths.lowest)
        roundTrip(Widths.highest)
        roundTrip([Int64.min, -1, 0, 1, Int64.max])
        roundTrip(UInt64.max)
    }

    @Test func floatingPointNumbersRoundTrip() {
        let doubles: [Double] = [0.1, -0.0, 0, 1e300, -1e300, 5e-324, 1.0, 123456789.125, .pi, 2.2250738585072014e-308, .greatestFiniteMagnitude, 9007199254740992]
        for value in doubles { roundTrip(value) }
        roundTrip(doubles)
        let floats: [Float] = [0.1, 1, -2.5, .greatestFiniteMagnitude, .leastNonzeroMagnitude, 16_777_216]
        for value in floats { roundTrip(value) }
        roundTrip(floats)
    }

    /// Numbers of random bits come back bit for bit from both decoders.
    @Test func randomDoublesAndFloatsComeBackExactly() throws {
        var generator = SystemRandomNumberGenerator()
        let doubles = (0..<1_000).map { _ in Double(bitPattern: generator.next()) }.filter(\.isFinite)
        let doubleBytes = try JSONCodec.encode(doubles)
        #expect(try JSONCodec.decode([Double].self, from: doubleBytes).map(\.bitPattern) == doubles.map(\.bitPattern))
        #expect(try JSONDecoder().decode([Double].self, from: Data(doubleBytes)).map(\.bitPattern) == doubles.map(\.bitPattern))
        let floats = (0..<1_000).map { _ in Float(bitPattern: UInt32.random(in: .min ... .max, using: &generator)) }.filter(\.isFinite)
        let floatBytes = try JSONCodec.encode(floats)
        #expect(try JSONCodec.decode([Float].self, from: floatBytes).map(\.bitPattern) == floats.map(\.bitPattern))
        #expect(try JSONDecoder().decode([Float].self, from: Data(floatBytes)).map(\.bitPattern) == floats.map(\.bitPattern))
    }

    /// Decimal texts that need correct rounding read as the Double Swift's own parser gives.
    @Test func numbersReadAsTheNearestDouble() throws {
        let texts = [
            "0.1", "1e23", "9007199254740993", "0.30000000000000004", "2.2250738585072011e-308", "4.9e-324",
            "2.4703282292062328e-324", "1.7976931348623157e308", "123456789012345678901234567890",
            "1.00000000000000011102230246251565404236316680908203126", "7.038531e-26", "1E-5", "-12.5e+2",
        ]
        for text in texts {
            #expect(try decode(Double.self, text).bitPattern == Double(text)!.bitPattern, "\(text)")
        }
    }

    @Test func stringsWithEscapesAndNonASCIIRoundTrip() {
        let controls = String(decoding: (0..<32).map { UInt8($0) }, as: UTF8.self)
        let strings = [
            "", "plain", "quote \" backslash \\ slash / end", "\u{1}\u{1F}\n\t\r\u{8}\u{C}\u{0}", controls,
            "é 日本 🎉", "\u{7F}\u{80}\u{FFFF}\u{10FFFF}", "\\u00e9", "\"",
        ]
        for string in strings { roundTrip(string) }
        roundTrip(strings)
        roundTrip(Dictionary(uniqueKeysWithValues: strings.map { ($0, $0) }))
    }

    @Test func foundationValueTypesRoundTrip() {
        let attachments = Attachments(
            data: Data((0...255).map { UInt8($0) }), date: Date(timeIntervalSinceReferenceDate: 700_000_000.125),
            url: URL(string: "https://example.com/path/to?q=1&r=a%20b#frag")!, amount: Decimal(string: "-12345678901234567890.5")!,
            id: UUID(uuidString: "E621E1F8-C36C-495A-93FC-0C247A3E6E5F")!, link: nil,
            amounts: [Decimal(string: "3.14159")!, 0, 100], dates: [Date(timeIntervalSince1970: 0)], blobs: ["empty": Data(), "one": Data([0xFB])])
        roundTrip(attachments)
        roundTrip(attachments.data)
        roundTrip(attachments.date)
        roundTrip(attachments.url)
        roundTrip(attachments.amount)
        roundTrip(attachments.id)
    }

    @Test func topLevelScalarsAndEmptyContainersRoundTrip() {
        roundTrip(42)
        roundTrip(-7 as Int8)
        roundTrip("top")
        roundTrip(true)
        roundTrip(false)
        roundTrip(2.5)
        roundTrip(Int?.none)
        roundTrip(Int?.some(5))
        roundTrip(String?.none)
        roundTrip([Int]())
        roundTrip([String: Int]())
        roundTrip(Empty())
        roundTrip([[Int]]([[]]))
    }

    @Test func subclassesCarryTheirSuperclassThroughSuperEncoders() throws {
        for (way, truck) in decodedThreeWays(Truck(wheels: 18, load: 2.5)) {
            #expect(truck.wheels == 18 && truck.load == 2.5, "\(way)")
        }
        for (way, trucks) in decodedThreeWays([Truck(wheels: 6, load: 1), Truck(wheels: 8, load: 0.5)]) {
            #expect(trucks.map(\.wheels) == [6, 8] && trucks.map(\.load) == [1, 0.5], "\(way)")
        }
        for (way, bus) in decodedThreeWays(Bus(wheels: 6, seats: 40)) {
            #expect(bus.wheels == 6 && bus.seats == 40, "\(way)")
        }
        for (way, van) in decodedThreeWays(Van(wheels: 4, doors: 3)) {
            #expect(van.wheels == 4 && van.doors == 3, "\(way)")
        }
        #expect(try text(Truck(wheels: 18, load: 2.5)) == #"{"load":2.5,"super":{"wheels":18}}"#)
        #expect(try text(Bus(wheels: 6, seats: 40)) == #"[40,{"wheels":6}]"#)
        #expect(try text(Van(wheels: 4, doors: 3)) == #"{"doors":3,"wheels":4}"#)
    }

    @Test func writesSortedKeysUnescapedSlashesAndIntegralDoublesWithoutFraction() throws {
        #expect(try text(Pair(b: 1, a: "x/y", c: nil, d: 1.0)) == #"{"a":"x/y","b":1,"d":1}"#)
        #expect(try text(["b": 1, "a": 2, "B": 3, "é": 4, "aa": 5, "": 6, "🎉": 7, "Ａ": 8]) == #"{"":6,"B":3,"a":2,"aa":5,"b":1,"é":4,"Ａ":8,"🎉":7}"#)
        #expect(try text([2: "b", 10: "a"]) == #"{"10":"a","2":"b"}"#)
        #expect(try text(["a\"b": 1]) == #"{"a\"b":1}"#)
        #expect(try text(1.0) == "1")
        #expect(try text([1.0, -2.0, 0.5]) == "[1,-2,0.5]")
        #expect(try text(Polygon.sample) == #"{"grid":[[1,2],[]],"meta":{"count":2,"tags":["a","b"]},"name":"p","origin":{"x":0,"y":-1},"points":[{"x":1,"y":2},{"x":3,"y":4}]}"#)
        #expect(try text(Int?.none) == "null")
        #expect(try text([Int?]([1, nil])) == "[1,null]")
        #expect(try text([Int]()) == "[]")
        #expect(try text(Empty()) == "{}")
        #expect(try text(Int64.min) == "-9223372036854775808")
        #expect(try text(UInt64.max) == "18446744073709551615")
        #expect(try text(Data([0xFB, 0xFF])) == #""+/8=""#)
        #expect(try text(URL(string: "https://example.com/a/b")!) == #""https://example.com/a/b""#)
        #expect(try text(Date(timeIntervalSinceReferenceDate: 1.5)) == "1.5")
        #expect(try text(Decimal(string: "12.5")!) == "12.5")
    }

    @Test func escapesOnlyQuotesBackslashesAndControlCharacters() throws {
        #expect(try text("\"\\\n\u{1}") == #""\"\\\n\u0001""#)
        #expect(try text("\t\r\u{8}\u{C}") == #""\t\r\b\f""#)
        #expect(try text("\u{1F}").lowercased() == #""\u001f""#)
        #expect(try text("x/y é日本🎉") == "\"x/y é日本🎉\"")
        let controls = String(decoding: (0..<32).map { UInt8($0) }, as: UTF8.self)
        #expect(try JSONCodec.encode(controls).allSatisfy { $0 >= 0x20 })
        #expect(try JSONCodec.encode([controls: controls]).allSatisfy { $0 >= 0x20 })
    }

    @Test func nonFiniteNumbersAreInvalidValues() {
        let nonFinite: [Double] = [.nan, .infinity, -.infinity]
        for value in nonFinite {
            #expect(throwsInvalidValue { try JSONCodec.encode(value) }, "\(value)")
        }
        #expect(throwsInvalidValue { try JSONCodec.encode(Float.infinity) })
        #expect(throwsInvalidValue { try JSONCodec.encode(Sample.Inner(label: "x", weight: .nan)) })
        #expect(throwsInvalidValue { try JSONCodec.encode([1, Double.infinity]) })
    }

    #if os(Linux)
    /// Where the output is fixed (strings, integers, booleans, keys, base64), JSONCodec writes the
    /// bytes of Foundation's encoder with sorted keys and unescaped slashes, which on Linux sorts
    /// keys by their UTF-8 bytes.
    @Test func writesTheBytesOfFoundationsSortedEncoder() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        func same<T: Encodable>(_ value: T, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let foundation = String(decoding: try encoder.encode(value), as: UTF8.self)
            #expect(try text(value) == foundation, sourceLocation: sourceLocation)
        }
        try same(Sample.full)
        try same(Widths.lowest)
        try same(Widths.highest)
        try same(Polygon.sample)
        try same([Truck(wheels: 18, load: 2)])
        try same(Bus(wheels: 6, seats: 40))
        try same(Van(wheels: 4, doors: 3))
        try same(["z": ["é": 1, "e": 2], "Z": [:], "日本": ["🎉": 3, "\n\"\\/": 4]])
        try same([Data((0...255).map { UInt8($0) })])
        try same(["id": UUID(uuidString: "E621E1F8-C36C-495A-93FC-0C247A3E6E5F")!])
    }
    #endif

    @Test func whitespaceIsAllowedAroundEveryToken() throws {
        #expect(try decode(Order.self, " \n\t{ \r\n\"id\" : \"o\" ,\t\"amount\"\n:\n-5 } \n ") == Order(id: "o", amount: -5))
        #expect(try decode([[Int?]].self, " [ [ 1 , null ] ,\r\n[ ] ] ") == [[1, nil], []])
        #expect(try decode(Int.self, "\t7\n") == 7)
    }

    @Test func escapesDecode() throws {
        let decoded = try decode(String.self, #""\u00e9\u00E9 \ud83c\udf89 \/ \" \\ \b\f\n\r\t \u0000""#)
        #expect(decoded == "éé 🎉 / \" \\ \u{8}\u{C}\n\r\t \u{0}")
        #expect(try decode([String: Int].self, #"{"\u0061b":1}"#) == ["ab": 1])
        #expect(try decode(Order.self, #"{"\u0069d":"x","amount":1}"#) == Order(id: "x", amount: 1))
    }

    @Test func integersDecodeFromNumbersThatAreExactlyThem() throws {
        for text in ["100", "100.0", "1e2", "1E+2", "1000e-1", "100.000"] {
            #expect(try decode(Int.self, text) == 100, "\(text)")
        }
        #expect(try decode(Int.self, "-0") == 0)
        #expect(try decode(Int8.self, "-128") == .min)
        #expect(try decode(Int64.self, "-9223372036854775808") == .min)
        #expect(try decode(UInt64.self, "18446744073709551615") == .max)
        #expect(decodingError(Int.self, "1.5")?.caseName == "dataCorrupted")
        #expect(decodingError(UInt8.self, "300")?.caseName == "dataCorrupted")
        #expect(decodingError(UInt8.self, "256")?.caseName == "dataCorrupted")
        #expect(decodingError(UInt.self, "-1")?.caseName == "dataCorrupted")
        #expect(decodingError(Int8.self, "-129")?.caseName == "dataCorrupted")
        #expect(decodingError(Int64.self, "9223372036854775808")?.caseName == "dataCorrupted")
        #expect(decodingError(UInt64.self, "18446744073709551616")?.caseName == "dataCorrupted")
        #expect(decodingError(Int.self, "1e400")?.caseName == "dataCorrupted")
        #expect(decodingError(Order.self, #"{"id":"o","amount":0.5}"#)?.caseName == "dataCorrupted")
    }

    @Test func aValueOfTheWrongTypeIsATypeMismatchAtItsPath() {
        let amount = decodingError(Order.self, #"{"id":"o1","amount":"five"}"#)
        #expect(amount?.caseName == "typeMismatch")
        #expect(amount?.context?.codingPath.map(\.stringValue) == ["amount"])
        let nested = decodingError(Basket.self, #"{"owner":"a","orders":[{"id":"o1","amount":1},{"id":"o2","amount":true}]}"#)
        #expect(nested?.caseName == "typeMismatch")
        #expect(nested?.path == ["orders", "1", "amount"])
        let point = decodingError(Polygon.self, #"{"name":"p","origin":{"x":0,"y":0},"points":[{"x":1,"y":2},{"x":3,"y":"4"}],"grid":[],"meta":{"count":2,"tags":[]}}"#)
        #expect(point?.caseName == "typeMismatch")
        #expect(point?.path == ["points", "1", "y"])
        #expect(decodingError(Int.self, #""5""#)?.caseName == "typeMismatch")
        #expect(decodingError(String.self, "5")?.caseName == "typeMismatch")
        #expect(decodingError(Bool.self, "1")?.caseName == "typeMismatch")
        #expect(decodingError(Int.self, "true")?.caseName == "typeMismatch")
        #expect(decodingError([Int].self, "{}")?.caseName == "typeMismatch")
        #expect(decodingError([String: Int].self, "[]")?.caseName == "typeMismatch")
        #expect(decodingError(Order.self, #""o1""#)?.caseName == "typeMismatch")
    }

    @Test func aMissingKeyIsKeyNotFound() {
        let error = decodingError(Order.self, #"{"id":"o1"}"#)
        #expect(error?.caseName == "keyNotFound")
        #expect(error?.missingKey == "amount")
        let nested = decodingError(Basket.self, #"{"owner":"a","orders":[{"id":"o1"}]}"#)
        #expect(nested?.missingKey == "amount")
        #expect(nested?.path == ["orders", "0"])
    }

    @Test func nullIsNilForOptionalsAndValueNotFoundOtherwise() throws {
        let error = decodingError(Order.self, #"{"id":"o1","amount":null}"#)
        #expect(error?.caseName == "valueNotFound")
        #expect(error?.path == ["amount"])
        #expect(decodingError(Int.self, "null")?.caseName == "valueNotFound")
        let element = decodingError([Int].self, "[1,null]")
        #expect(element?.caseName == "valueNotFound")
        #expect(element?.path == ["1"])
        #expect(try decode(Basket.self, #"{"owner":"a","orders":[],"note":null}"#) == Basket(owner: "a", orders: [], note: nil))
        #expect(try decode([Int?].self, "[1,null]") == [1, nil])
        #expect(try decode(Int?.self, "null") == nil)
    }

    @Test func unknownKeysAreSkippedAndADuplicateKeyTakesItsLastValue() throws {
        let extra = #"{"extra":{"deep":[1,{"x":null}],"s":"}]"},"id":"o1","more":[],"amount":5,"last":false}"#
        #expect(try decode(Order.self, extra) == Order(id: "o1", amount: 5))
        #expect(try decode(Order.self, #"{"id":"a","amount":1,"id":"b","amount":2}"#) == Order(id: "b", amount: 2))
        #expect(try decode([String: Int].self, #"{"k":1,"k":2}"#) == ["k": 2])
    }

    @Test func whatIsNotJSONIsDataCorrupted() {
        let corrupted = "dataCorrupted"
        #expect(decodingError([Int].self, "[1,2,]")?.caseName == corrupted)
        #expect(decodingError([String: Int].self, #"{"a":1,}"#)?.caseName == corrupted)
        #expect(decodingError(String.self, #""abc"#)?.caseName == corrupted)
        #expect(decodingError([String: Int].self, #"{"a":}"#)?.caseName == corrupted)
        #expect(decodingError([String: Int].self, #"{"a":1} x"#)?.caseName == corrupted)
        #expect(decodingError(Int.self, "1 2")?.caseName == corrupted)
        #expect(decodingError([Int].self, "[1]]")?.caseName == corrupted)
        #expect(decodingError(Int.self, "")?.caseName == corrupted)
        #expect(decodingError(Int.self, " ")?.caseName == corrupted)
        #expect(decodingError(Int.self, "01")?.caseName == corrupted)
        #expect(decodingError(Int.self, "-")?.caseName == corrupted)
        #expect(decodingError(Bool.self, "tru")?.caseName == corrupted)
        #expect(decodingError(String.self, "\"a\tb\"")?.caseName == corrupted, "a raw tab in a string")
        #expect(decodingError(String.self, #""\x""#)?.caseName == corrupted)
        #expect(decodingError(String.self, #""\u12G4""#)?.caseName == corrupted)
        #expect(decodingError([String: Int].self, "{a:1}")?.caseName == corrupted)
        #expect(decodingError(Order.self, #"{"id":"o1","amount":1,"junk":[1,}"#)?.caseName == corrupted, "in a value no one reads")
        #expect(decodingError(Order.self, #"{"id":"o1","amount":1}}"#)?.caseName == corrupted)
        #expect(decodingError(String.self, [0x22, 0xFF, 0x22])?.caseName == corrupted)
        #expect(decodingError(String.self, [0x22, 0xC3, 0x22])?.caseName == corrupted)
        #expect(decodingError(String.self, [0x22, 0xED, 0xA0, 0x80, 0x22])?.caseName == corrupted, "a surrogate")
        #expect(decodingError([String: Int].self, [0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D])?.caseName == corrupted, "in a key")
    }

    /// Ten thousand levels throw (too deep, or not an Int) rather than overflow the stack.
    @Test func deepNestingThrowsWithoutCrashing() {
        let depth = 10_000
        let arrays = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        #expect(throws: DecodingError.self) { try decode([Int].self, arrays) }
        #expect(throws: DecodingError.self) { try decode([Int].self, String(repeating: "[", count: depth)) }
        let objects = String(repeating: #"{"a":"#, count: depth) + "1" + String(repeating: "}", count: depth)
        #expect(throws: DecodingError.self) { try decode([String: Int].self, objects) }
    }

    @Test func aLargeObjectRoundTripsAndFindsEachKey() throws {
        let large = Dictionary(uniqueKeysWithValues: (0..<5_000).map { ("key\($0)", $0) })
        roundTrip(large)
        var text = #"{"id":"first","#
        for i in 0..<5_000 { text += #""k\#(i)":\#(i),"# }
        text += #""amount":-1}"#
        #expect(try decode(Order.self, text) == Order(id: "first", amount: -1))
    }
}
