import Foundation

/// How a state value becomes bytes for checkpoints and back.
public struct StateCodec<Value>: Sendable {
    /// Turns a value into bytes; throws when it cannot.
    public let encode: @Sendable (Value) throws -> [UInt8]
    /// Turns bytes back into a value; throws when they are not one.
    public let decode: @Sendable ([UInt8]) throws -> Value

    /// A codec of these two closures; `decode(encode(v))` should give back `v`.
    public init(encode: @escaping @Sendable (Value) throws -> [UInt8], decode: @escaping @Sendable ([UInt8]) throws -> Value) {
        self.encode = encode
        self.decode = decode
    }
}

extension StateCodec where Value: Codable {
    /// JSON, the default for `Codable` values. Integers take a shortcut with the same bytes.
    public static var json: StateCodec<Value> {
        if Value.self == Int.self {
            return StateCodec(encode: { Array(String($0 as! Int).utf8) },
                              decode: { bytes in
                                  guard let value = Int(String(decoding: bytes, as: UTF8.self)) else {
                                      throw StatefulFunctionError(.stateDecoding, "not an integer")
                                  }
                                  return value as! Value
                              })
        }
        return StateCodec(encode: { try JSONCodec.encode($0) }, decode: { try JSONCodec.decode(Value.self, from: $0) })
    }
}

extension StateCodec where Value == [UInt8] {
    /// Stores byte arrays as they are.
    public static var bytes: StateCodec<[UInt8]> { StateCodec(encode: { $0 }, decode: { $0 }) }
}

/// Any declared state value, whatever its type.
public protocol StateSpec: Sendable {
    /// The name the value is stored under in an address's state. Specs of one function should have
    /// distinct names: equal names share one value.
    var name: String { get }
}

/// A named piece of persistent state of a function, with its codec. Declare specs when binding
/// the function; read and write them through the `Context`.
public struct ValueSpec<Value: Sendable>: StateSpec {
    /// The name the value is stored under in an address's state.
    public let name: String
    /// How the value becomes bytes for checkpoints and back.
    public let codec: StateCodec<Value>
    /// The codec's encoder for a type-erased value, made once so that storing a value
    /// allocates nothing.
    @usableFromInline let encodeErased: @Sendable (Any) throws -> [UInt8]

    /// A state value named `name`, stored with `codec`.
    public init(_ name: String, codec: StateCodec<Value>) {
        self.name = name
        self.codec = codec
        encodeErased = { try codec.encode($0 as! Value) }
    }
}

extension ValueSpec where Value: Codable {
    /// A state value named `name`, stored as JSON (`StateCodec.json`).
    public init(_ name: String) {
        self.init(name, codec: .json)
    }
}
