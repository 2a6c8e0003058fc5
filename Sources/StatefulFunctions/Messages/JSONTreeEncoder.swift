import Foundation

/// A value being encoded. Containers are classes, so that a container handed out keeps
/// filling the node its parent holds.
enum JSONNode {
    case null
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    /// A number's text (floating-point, `Decimal`), ready to write.
    case number(String)
    case string(String)
    case array(JSONArrayNode)
    case object(JSONObjectNode)
    /// What a super encoder encoded (an empty object if nothing).
    case encoder(JSONTreeEncoder)
}

final class JSONArrayNode {
    var items: [JSONNode] = []
}

final class JSONObjectNode {
    /// In the order encoded; written sorted by name, the last of equal names counting.
    var members: [(name: String, value: JSONNode)] = []
}

/// Encodes one value into a `JSONNode`; its own single-value container.
final class JSONTreeEncoder: Encoder, SingleValueEncodingContainer {
    let path: CodingPathNode?
    private(set) var node: JSONNode?

    init(path: CodingPathNode?) {
        self.path = path
    }

    var codingPath: [any CodingKey] { CodingPathNode.keys(path) }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if case .object(let object) = node { return KeyedEncodingContainer(KeyedWriter(object: object, path: path)) }
        let object = JSONObjectNode()
        node = .object(object)
        return KeyedEncodingContainer(KeyedWriter(object: object, path: path))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if case .array(let array) = node { return UnkeyedWriter(array: array, path: path) }
        let array = JSONArrayNode()
        node = .array(array)
        return UnkeyedWriter(array: array, path: path)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { self }

    // MARK: The single value

    func encodeNil() { node = .null }
    func encode(_ value: Bool) { node = .bool(value) }
    func encode(_ value: String) { node = .string(value) }
    func encode(_ value: Double) throws { node = try JSONNode.floatingPoint(value, path: codingPath) }
    func encode(_ value: Float) throws { node = try JSONNode.floatingPoint(value, path: codingPath) }
    func encode(_ value: Int) { node = .int(Int64(value)) }
    func encode(_ value: Int8) { node = .int(Int64(value)) }
    func encode(_ value: Int16) { node = .int(Int64(value)) }
    func encode(_ value: Int32) { node = .int(Int64(value)) }
    func encode(_ value: Int64) { node = .int(value) }
    func encode(_ value: UInt) { node = .uint(UInt64(value)) }
    func encode(_ value: UInt8) { node = .uint(UInt64(value)) }
    func encode(_ value: UInt16) { node = .uint(UInt64(value)) }
    func encode(_ value: UInt32) { node = .uint(UInt64(value)) }
    func encode(_ value: UInt64) { node = .uint(value) }
    func encode<T: Encodable>(_ value: T) throws { node = try JSONNode.of(value, path: path, key: nil) }
}

extension JSONNode {
    /// `value` as a node: the types `JSONEncoder` treats apart (`Data` as base64, `URL` as its
    /// string, `Decimal` as a number) as it does, the common scalars without an encoder,
    /// anything else through its `encode(to:)`. `key`, if any, is the value's key under `path`.
    static func of<T: Encodable>(_ value: T, path: CodingPathNode?, key: (any CodingKey)?) throws -> JSONNode {
        // Comparing types first: a failed cast costs more than the comparison.
        if T.self == String.self { return .string(value as! String) }
        if T.self == Int.self { return .int(Int64(value as! Int)) }
        if T.self == Bool.self { return .bool(value as! Bool) }
        if T.self == Double.self { return try floatingPoint(value as! Double, path: CodingPathNode.keys(path, then: key)) }
        if T.self == Data.self { return .string((value as! Data).base64EncodedString()) }
        if T.self == URL.self { return .string((value as! URL).absoluteString) }
        if T.self == Decimal.self { return .number((value as! Decimal).description) }
        let encoder = JSONTreeEncoder(path: key.map { CodingPathNode($0, parent: path) } ?? path)
        try value.encode(to: encoder)
        return encoder.node ?? .object(JSONObjectNode())
    }

    /// A finite number as its shortest text (an integral one without `.0`); others cannot be JSON.
    static func floatingPoint<T: BinaryFloatingPoint & CustomStringConvertible>(_ value: T, path: @autoclosure () -> [any CodingKey]) throws -> JSONNode {
        guard value.isFinite else {
            throw EncodingError.invalidValue(value, .init(codingPath: path(), debugDescription: "Unable to encode \(T.self).\(value) directly in JSON."))
        }
        let text = value.description
        return .number(text.hasSuffix(".0") ? String(text.dropLast(2)) : text)
    }
}

private struct KeyedWriter<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let object: JSONObjectNode
    let path: CodingPathNode?

    var codingPath: [any CodingKey] { CodingPathNode.keys(path) }

    func add(_ key: Key, _ node: JSONNode) { object.members.append((key.stringValue, node)) }

    mutating func encodeNil(forKey key: Key) { add(key, .null) }
    mutating func encode(_ value: Bool, forKey key: Key) { add(key, .bool(value)) }
    mutating func encode(_ value: String, forKey key: Key) { add(key, .string(value)) }
    mutating func encode(_ value: Double, forKey key: Key) throws {
        add(key, try JSONNode.floatingPoint(value, path: CodingPathNode.keys(path, then: key)))
    }
    mutating func encode(_ value: Float, forKey key: Key) throws {
        add(key, try JSONNode.floatingPoint(value, path: CodingPathNode.keys(path, then: key)))
    }
    mutating func encode(_ value: Int, forKey key: Key) { add(key, .int(Int64(value))) }
    mutating func encode(_ value: Int8, forKey key: Key) { add(key, .int(Int64(value))) }
    mutating func encode(_ value: Int16, forKey key: Key) { add(key, .int(Int64(value))) }
    mutating func encode(_ value: Int32, forKey key: Key) { add(key, .int(Int64(value))) }
    mutating func encode(_ value: Int64, forKey key: Key) { add(key, .int(value)) }
    mutating func encode(_ value: UInt, forKey key: Key) { add(key, .uint(UInt64(value))) }
    mutating func encode(_ value: UInt8, forKey key: Key) { add(key, .uint(UInt64(value))) }
    mutating func encode(_ value: UInt16, forKey key: Key) { add(key, .uint(UInt64(value))) }
    mutating func encode(_ value: UInt32, forKey key: Key) { add(key, .uint(UInt64(value))) }
    mutating func encode(_ value: UInt64, forKey key: Key) { add(key, .uint(value)) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws { add(key, try JSONNode.of(value, path: path, key: key)) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        let nested = JSONObjectNode()
        add(key, .object(nested))
        return KeyedEncodingContainer(KeyedWriter<NestedKey>(object: nested, path: CodingPathNode(key, parent: path)))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let nested = JSONArrayNode()
        add(key, .array(nested))
        return UnkeyedWriter(array: nested, path: CodingPathNode(key, parent: path))
    }

    mutating func superEncoder() -> any Encoder { superEncoder(named: SuperKey.super) }
    mutating func superEncoder(forKey key: Key) -> any Encoder { superEncoder(named: key) }

    private func superEncoder(named key: any CodingKey) -> any Encoder {
        let encoder = JSONTreeEncoder(path: CodingPathNode(key, parent: path))
        object.members.append((key.stringValue, .encoder(encoder)))
        return encoder
    }
}

private struct UnkeyedWriter: UnkeyedEncodingContainer {
    let array: JSONArrayNode
    let path: CodingPathNode?

    var codingPath: [any CodingKey] { CodingPathNode.keys(path) }
    var count: Int { array.items.count }

    var elementPath: [any CodingKey] { CodingPathNode.keys(path, then: IndexCodingKey(count)) }

    mutating func encodeNil() { array.items.append(.null) }
    mutating func encode(_ value: Bool) { array.items.append(.bool(value)) }
    mutating func encode(_ value: String) { array.items.append(.string(value)) }
    mutating func encode(_ value: Double) throws { array.items.append(try JSONNode.floatingPoint(value, path: elementPath)) }
    mutating func encode(_ value: Float) throws { array.items.append(try JSONNode.floatingPoint(value, path: elementPath)) }
    mutating func encode(_ value: Int) { array.items.append(.int(Int64(value))) }
    mutating func encode(_ value: Int8) { array.items.append(.int(Int64(value))) }
    mutating func encode(_ value: Int16) { array.items.append(.int(Int64(value))) }
    mutating func encode(_ value: Int32) { array.items.append(.int(Int64(value))) }
    mutating func encode(_ value: Int64) { array.items.append(.int(value)) }
    mutating func encode(_ value: UInt) { array.items.append(.uint(UInt64(value))) }
    mutating func encode(_ value: UInt8) { array.items.append(.uint(UInt64(value))) }
    mutating func encode(_ value: UInt16) { array.items.append(.uint(UInt64(value))) }
    mutating func encode(_ value: UInt32) { array.items.append(.uint(UInt64(value))) }
    mutating func encode(_ value: UInt64) { array.items.append(.uint(value)) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        array.items.append(try JSONNode.of(value, path: path, key: IndexCodingKey(count)))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let nested = JSONObjectNode()
        let key = IndexCodingKey(count)
        array.items.append(.object(nested))
        return KeyedEncodingContainer(KeyedWriter<NestedKey>(object: nested, path: CodingPathNode(key, parent: path)))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let nested = JSONArrayNode()
        let key = IndexCodingKey(count)
        array.items.append(.array(nested))
        return UnkeyedWriter(array: nested, path: CodingPathNode(key, parent: path))
    }

    mutating func superEncoder() -> any Encoder {
        let encoder = JSONTreeEncoder(path: CodingPathNode(IndexCodingKey(count), parent: path))
        array.items.append(.encoder(encoder))
        return encoder
    }
}
