import Foundation

/// The payload of an invocation: bytes, usually JSON, and optionally the name of their type.
/// Functions decode what they accept.
public struct Message: Hashable, Sendable {
    /// The message's bytes, as the sender made them.
    public var payload: [UInt8]
    /// The type of the payload, as remote functions see it (a StateFun typename such as
    /// `io.statefun.types/string` or `com.example/Order`); nil when the sender set none.
    public var typeName: String?

    /// A message with `bytes` as its payload, of type `typeName` if given.
    public init(bytes: [UInt8], typeName: String? = nil) {
        payload = bytes
        self.typeName = typeName
    }

    /// A message whose payload is the UTF-8 bytes of `text`.
    public init(text: String) {
        payload = Array(text.utf8)
    }

    /// A message carrying `value` as JSON.
    public init(json value: some Encodable) throws(StatefulFunctionError) {
        do {
            payload = Array(try JSONEncoder.statefun.encode(value))
        } catch {
            throw StatefulFunctionError(.messageEncoding, "cannot encode \(type(of: value)): \(error)")
        }
    }

    /// Decodes the payload as JSON. A payload of another shape throws `messageDecoding`, which
    /// the runtime treats as a message the function does not accept.
    public func decode<T: Decodable>(_ type: T.Type = T.self) throws(StatefulFunctionError) -> T {
        do {
            return try JSONDecoder.statefun.decode(T.self, from: Data(payload))
        } catch {
            throw StatefulFunctionError(.messageDecoding, "payload is not a \(T.self): \(error)")
        }
    }

    /// The payload decoded as UTF-8; invalid bytes become U+FFFD.
    public var text: String { String(decoding: payload, as: UTF8.self) }
}

extension JSONEncoder {
    /// Sorted keys, so that equal values encode to equal bytes. Shared: creating an encoder
    /// costs more than most encodings.
    static let statefun: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()
}

extension JSONDecoder {
    static let statefun = JSONDecoder()
}
