/// The payload of an invocation: bytes, usually JSON, and optionally the name of their type.
/// Functions decode what they accept.
public struct Message: Hashable, Sendable {
    /// The message's bytes, as the sender made them.
    public var payload: [UInt8] {
        didSet { decoded = nil }
    }
    /// The type of the payload, as remote functions see it (a StateFun typename such as
    /// `io.statefun.types/string` or `com.example/Order`); nil when the sender set none.
    public var typeName: String?
    /// The payload already decoded, when the engine decoded it to route the message (see
    /// `IngressBinding.decoding`). It travels with the message in memory only: the message is
    /// equal to, and encodes as, its payload and type name alone.
    private var decoded: Decoded?

    /// A decoded payload; a class, so that copying a message copies one reference.
    private final class Decoded: Sendable {
        let value: any Sendable

        init(_ value: any Sendable) {
            self.value = value
        }
    }

    /// A message with `bytes` as its payload, of type `typeName` if given.
    public init(bytes: [UInt8], typeName: String? = nil) {
        payload = bytes
        self.typeName = typeName
    }

    /// A message with `bytes` as its payload that keeps `value`, what decoding `bytes` as JSON
    /// gave: `decode` of the same type returns it without decoding again.
    init(bytes: [UInt8], decoded value: some Decodable & Sendable) {
        payload = bytes
        decoded = Decoded(value)
    }

    public static func == (left: Message, right: Message) -> Bool {
        left.payload == right.payload && left.typeName == right.typeName
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(payload)
        hasher.combine(typeName)
    }

    /// A message whose payload is the UTF-8 bytes of `text`.
    public init(text: String) {
        payload = Array(text.utf8)
    }

    /// A message carrying `value` as JSON (see `JSONCodec`: members sorted by name, so equal
    /// values give equal bytes).
    public init(json value: some Encodable) throws(StatefulFunctionError) {
        do {
            payload = try JSONCodec.encode(value)
        } catch {
            throw StatefulFunctionError(.messageEncoding, "cannot encode \(type(of: value)): \(error)")
        }
    }

    /// Decodes the payload as JSON. A payload of another shape throws `messageDecoding`, which
    /// the runtime treats as a message the function does not accept.
    public func decode<T: Decodable>(_ type: T.Type = T.self) throws(StatefulFunctionError) -> T {
        if let decoded, Swift.type(of: decoded.value) == T.self, let value = decoded.value as? T { return value }
        do {
            return try JSONCodec.decode(T.self, from: payload)
        } catch {
            throw StatefulFunctionError(.messageDecoding, "payload is not a \(T.self): \(error)")
        }
    }

    /// The payload decoded as UTF-8; invalid bytes become U+FFFD.
    public var text: String { String(decoding: payload, as: UTF8.self) }
}
