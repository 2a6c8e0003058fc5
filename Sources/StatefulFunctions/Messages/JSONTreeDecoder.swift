import Foundation

/// Decodes one value of a parsed document (`JSONTokens`); its own single-value container.
final class JSONTreeDecoder: Decoder, SingleValueDecodingContainer {
    let document: JSONTokens
    /// The value's token.
    let index: Int
    let path: CodingPathNode?

    init(_ document: JSONTokens, index: Int, path: CodingPathNode?) {
        self.document = document
        self.index = index
        self.path = path
    }

    var codingPath: [any CodingKey] { CodingPathNode.keys(path) }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard document.tokens[index].kind == .object else {
            throw document.mismatch([String: Any].self, index, codingPath)
        }
        return KeyedDecodingContainer(KeyedContainer<Key>(decoder: self))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard document.tokens[index].kind == .array else { throw document.mismatch([Any].self, index, codingPath) }
        return UnkeyedContainer(decoder: self)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { self }

    // MARK: The single value

    func decodeNil() -> Bool { document.isNull(index) }
    func decode(_ type: Bool.Type) throws -> Bool { try document.bool(at: index, path: codingPath) }
    func decode(_ type: String.Type) throws -> String { try document.string(at: index, path: codingPath) }
    func decode(_ type: Double.Type) throws -> Double { try document.floatingPoint(Double.self, at: index, path: codingPath) }
    func decode(_ type: Float.Type) throws -> Float { try document.floatingPoint(Float.self, at: index, path: codingPath) }
    func decode(_ type: Int.Type) throws -> Int { try document.integer(Int.self, at: index, path: codingPath) }
    func decode(_ type: Int8.Type) throws -> Int8 { try document.integer(Int8.self, at: index, path: codingPath) }
    func decode(_ type: Int16.Type) throws -> Int16 { try document.integer(Int16.self, at: index, path: codingPath) }
    func decode(_ type: Int32.Type) throws -> Int32 { try document.integer(Int32.self, at: index, path: codingPath) }
    func decode(_ type: Int64.Type) throws -> Int64 { try document.integer(Int64.self, at: index, path: codingPath) }
    func decode(_ type: UInt.Type) throws -> UInt { try document.integer(UInt.self, at: index, path: codingPath) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try document.integer(UInt8.self, at: index, path: codingPath) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try document.integer(UInt16.self, at: index, path: codingPath) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try document.integer(UInt32.self, at: index, path: codingPath) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try document.integer(UInt64.self, at: index, path: codingPath) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try document.value(T.self, at: index, path: path, key: nil) }
}

extension JSONTokens {
    /// The value at `index` as a `T`: the types `JSONDecoder` treats apart (`Data` from base64,
    /// `URL` from a string, `Decimal` from a number) as it does, the common scalars without a
    /// decoder, anything else through its `init(from:)`. `key`, if any, is the value's key
    /// under `path`.
    func value<T: Decodable>(_ type: T.Type, at index: Int, path: CodingPathNode?, key: (any CodingKey)?) throws -> T {
        if T.self == String.self { return try string(at: index, path: CodingPathNode.keys(path, then: key)) as! T }
        if T.self == Int.self { return try integer(Int.self, at: index, path: CodingPathNode.keys(path, then: key)) as! T }
        if T.self == Bool.self { return try bool(at: index, path: CodingPathNode.keys(path, then: key)) as! T }
        if T.self == Double.self { return try floatingPoint(Double.self, at: index, path: CodingPathNode.keys(path, then: key)) as! T }
        if T.self == Data.self {
            let text = try string(at: index, path: CodingPathNode.keys(path, then: key))
            guard let data = Data(base64Encoded: text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: CodingPathNode.keys(path, then: key),
                                                        debugDescription: "Encountered Data is not valid Base64."))
            }
            return data as! T
        }
        if T.self == URL.self {
            guard let url = URL(string: try string(at: index, path: CodingPathNode.keys(path, then: key))) else {
                throw DecodingError.dataCorrupted(.init(codingPath: CodingPathNode.keys(path, then: key), debugDescription: "Invalid URL string."))
            }
            return url as! T
        }
        if T.self == Decimal.self {
            let text = try numberText(at: index, as: Decimal.self, path: CodingPathNode.keys(path, then: key))
            guard let decimal = Decimal(string: text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: CodingPathNode.keys(path, then: key),
                                                        debugDescription: "Parsed JSON number <\(text)> does not fit in Decimal."))
            }
            return decimal as! T
        }
        return try T(from: JSONTreeDecoder(self, index: index, path: key.map { CodingPathNode($0, parent: path) } ?? path))
    }
}

/// An object's members by name. Small objects are searched in order; a large one (a
/// dictionary) is indexed once. Of members with the same name, the last counts.
private struct KeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let decoder: JSONTreeDecoder
    var document: JSONTokens { decoder.document }
    /// Member name to value token, for objects with many members.
    let indexed: [String: Int]?

    static var indexedAbove: Int32 { 16 }

    init(decoder: JSONTreeDecoder) {
        self.decoder = decoder
        let document = decoder.document, object = document.tokens[decoder.index]
        guard object.count > Self.indexedAbove else {
            indexed = nil
            return
        }
        var indexed: [String: Int] = [:]
        indexed.reserveCapacity(Int(object.count))
        document.forEachMember(of: decoder.index) { name, value in
            if let key = try? document.string(at: name, path: []) { indexed[key] = value }
        }
        self.indexed = indexed
    }

    var codingPath: [any CodingKey] { decoder.codingPath }

    var allKeys: [Key] {
        var keys: [Key] = []
        document.forEachMember(of: decoder.index) { name, _ in
            if let text = try? document.string(at: name, path: []), let key = Key(stringValue: text) { keys.append(key) }
        }
        return keys
    }

    /// The value token of `key`'s member, if there is one.
    func member(_ key: Key) -> Int? {
        if let indexed { return indexed[key.stringValue] }
        return document.member(named: key.stringValue, in: decoder.index)
    }

    func required(_ key: Key) throws -> Int {
        guard let value = member(key) else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath,
                                                       debugDescription: "No value associated with key \(key.stringValue)."))
        }
        return value
    }

    func path(_ key: Key) -> [any CodingKey] { CodingPathNode.keys(decoder.path, then: key) }

    func contains(_ key: Key) -> Bool { member(key) != nil }
    func decodeNil(forKey key: Key) throws -> Bool { document.isNull(try required(key)) }
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try document.bool(at: try required(key), path: path(key)) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try document.string(at: try required(key), path: path(key)) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double {
        try document.floatingPoint(Double.self, at: try required(key), path: path(key))
    }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float {
        try document.floatingPoint(Float.self, at: try required(key), path: path(key))
    }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try integer(key) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try integer(key) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try integer(key) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try integer(key) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try integer(key) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try integer(key) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try integer(key) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try integer(key) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try integer(key) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try integer(key) }

    func integer<T: FixedWidthInteger>(_ key: Key) throws -> T {
        try document.integer(T.self, at: try required(key), path: path(key))
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try document.value(T.self, at: try required(key), path: decoder.path, key: key)
    }

    // One lookup for an optional member (the protocol's default makes three).
    func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? {
        guard let value = member(key), !document.isNull(value) else { return nil }
        return try document.string(at: value, path: path(key))
    }

    func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? {
        guard let value = member(key), !document.isNull(value) else { return nil }
        return try document.integer(Int.self, at: value, path: path(key))
    }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard let value = member(key), !document.isNull(value) else { return nil }
        return try document.value(T.self, at: value, path: decoder.path, key: key)
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try child(key).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try child(key).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder { try superDecoder(named: SuperKey.super) }
    func superDecoder(forKey key: Key) throws -> any Decoder { try superDecoder(named: key) }

    /// A decoder of the member `key`, or of null when there is none (as `JSONDecoder` does).
    private func superDecoder(named key: any CodingKey) throws -> any Decoder {
        guard let found = document.member(named: key.stringValue, in: decoder.index) else { return JSONTreeDecoder(try JSONTokens(Array("null".utf8)), index: 0, path: CodingPathNode(key, parent: decoder.path)) }
        return JSONTreeDecoder(document, index: found, path: CodingPathNode(key, parent: decoder.path))
    }

    private func child(_ key: Key) throws -> JSONTreeDecoder {
        JSONTreeDecoder(document, index: try required(key), path: CodingPathNode(key, parent: decoder.path))
    }
}

/// The key `superDecoder()` and `superEncoder()` use.
enum SuperKey: String, CodingKey {
    case `super`
}

/// An array's elements in order.
private struct UnkeyedContainer: UnkeyedDecodingContainer {
    let decoder: JSONTreeDecoder
    var document: JSONTokens { decoder.document }
    /// The next element's token.
    var position: Int
    let end: Int
    var currentIndex = 0

    init(decoder: JSONTreeDecoder) {
        self.decoder = decoder
        position = decoder.index + 1
        end = Int(decoder.document.tokens[decoder.index].next)
        count = Int(decoder.document.tokens[decoder.index].count)
    }

    var codingPath: [any CodingKey] { decoder.codingPath }
    let count: Int?
    var isAtEnd: Bool { position >= end }

    /// The next element's token, moving past it.
    mutating func next(_ type: Any.Type) throws -> Int {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(type, .init(codingPath: CodingPathNode.keys(decoder.path, then: IndexCodingKey(currentIndex)),
                                                          debugDescription: "Unkeyed container is at end."))
        }
        let element = position
        position = Int(document.tokens[position].next)
        currentIndex += 1
        return element
    }

    var elementPath: [any CodingKey] { CodingPathNode.keys(decoder.path, then: IndexCodingKey(currentIndex - 1)) }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, document.isNull(position) else {
            if isAtEnd { _ = try next(Any?.self) }
            return false
        }
        _ = try next(Any?.self)
        return true
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool { try document.bool(at: try next(type), path: elementPath) }
    mutating func decode(_ type: String.Type) throws -> String { try document.string(at: try next(type), path: elementPath) }
    mutating func decode(_ type: Double.Type) throws -> Double { try document.floatingPoint(Double.self, at: try next(type), path: elementPath) }
    mutating func decode(_ type: Float.Type) throws -> Float { try document.floatingPoint(Float.self, at: try next(type), path: elementPath) }
    mutating func decode(_ type: Int.Type) throws -> Int { try integer() }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try integer() }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try integer() }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try integer() }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try integer() }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try integer() }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try integer() }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try integer() }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try integer() }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try integer() }

    mutating func integer<T: FixedWidthInteger>() throws -> T {
        try document.integer(T.self, at: try next(T.self), path: elementPath)
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let element = try next(type)
        return try document.value(T.self, at: element, path: decoder.path, key: IndexCodingKey(currentIndex - 1))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        try child(type).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try child([Any].self).unkeyedContainer()
    }

    mutating func superDecoder() throws -> any Decoder { try child(Decoder.self) }

    private mutating func child(_ type: Any.Type) throws -> JSONTreeDecoder {
        let element = try next(type)
        return JSONTreeDecoder(document, index: element, path: CodingPathNode(IndexCodingKey(currentIndex - 1), parent: decoder.path))
    }
}
