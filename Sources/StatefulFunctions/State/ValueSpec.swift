import Foundation

/// How a state value becomes bytes for checkpoints and back.
public struct StateCodec<Value>: Sendable {
    public let encode: @Sendable (Value) throws -> [UInt8]
    public let decode: @Sendable ([UInt8]) throws -> Value

    public init(encode: @escaping @Sendable (Value) throws -> [UInt8], decode: @escaping @Sendable ([UInt8]) throws -> Value) {
        self.encode = encode
        self.decode = decode
    }
}

extension StateCodec where Value: Codable {
    /// JSON, the default for `Codable` values.
    public static var json: StateCodec<Value> {
        StateCodec(encode: { Array(try JSONEncoder.statefun.encode($0)) },
                   decode: { try JSONDecoder().decode(Value.self, from: Data($0)) })
    }
}

extension StateCodec where Value == [UInt8] {
    public static var bytes: StateCodec<[UInt8]> { StateCodec(encode: { $0 }, decode: { $0 }) }
}

/// Any declared state value, whatever its type.
public protocol StateSpec: Sendable {
    var name: String { get }
}

/// A named piece of persistent state of a function, with its codec. Declare specs when binding
/// the function; read and write them through the `Context`.
public struct ValueSpec<Value: Sendable>: StateSpec {
    public let name: String
    public let codec: StateCodec<Value>

    public init(_ name: String, codec: StateCodec<Value>) {
        self.name = name
        self.codec = codec
    }
}

extension ValueSpec where Value: Codable {
    public init(_ name: String) {
        self.init(name, codec: .json)
    }
}
