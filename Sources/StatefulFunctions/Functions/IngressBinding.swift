import Foundation

/// How records of an ingress topic become invocations: of one function type with an id taken
/// from the record, or of any address a custom router picks.
public struct IngressBinding: Sendable {
    public enum PayloadCodec: String, Sendable {
        /// The value must be a JSON document; it is passed on as the message payload.
        case json
        /// The value is passed on as it is.
        case raw
    }

    public let topic: String
    public let codec: PayloadCodec
    /// The address a record goes to. Nil means the record has no usable id and goes to the
    /// dead-letter topic.
    public let target: @Sendable (IngressRecord) -> Address?

    /// Records go to `type`, with the id `id` takes from the record (by default its key as UTF-8).
    public init(
        topic: String, type: TypeName, codec: PayloadCodec = .json,
        id: @escaping @Sendable (IngressRecord) -> String? = IngressBinding.keyAsID
    ) {
        self.init(topic: topic, codec: codec) { record in id(record).map { Address(type, $0) } }
    }

    /// Records go to the address `target` picks for each.
    public init(topic: String, codec: PayloadCodec = .json, target: @escaping @Sendable (IngressRecord) -> Address?) {
        self.topic = topic
        self.codec = codec
        self.target = target
    }

    public static let keyAsID: @Sendable (IngressRecord) -> String? = { record in
        guard let key = record.key, !key.isEmpty else { return nil }
        return String(decoding: key, as: UTF8.self)
    }

    /// The invocation for `record`, or why it cannot be one.
    public func route(_ record: IngressRecord) -> Result<(Address, Message), DeadLetterReason> {
        let payload = record.value ?? []
        if codec == .json, (try? JSONSerialization.jsonObject(with: Data(payload), options: [.fragmentsAllowed])) == nil {
            return .failure(.undecodable("the value is not JSON"))
        }
        guard let address = target(record) else { return .failure(.missingID) }
        return .success((address, Message(bytes: payload)))
    }
}

/// Why a record or message went to the dead-letter topic.
public enum DeadLetterReason: Error, Hashable, Sendable, CustomStringConvertible {
    case missingID
    case undecodable(String)
    case tooLarge(bytes: Int, limit: Int)
    case unknownFunctionType(TypeName)
    case rejected(String)
    case noIngressBinding(topic: String)

    public var code: String {
        switch self {
        case .missingID: "missing-id"
        case .undecodable: "undecodable"
        case .tooLarge: "too-large"
        case .unknownFunctionType: "unknown-function-type"
        case .rejected: "rejected"
        case .noIngressBinding: "no-ingress-binding"
        }
    }

    public var description: String {
        switch self {
        case .missingID: "the record has no key to take the function id from"
        case .undecodable(let why): "the record cannot be decoded: \(why)"
        case .tooLarge(let bytes, let limit): "the record has \(bytes) bytes, over the limit of \(limit)"
        case .unknownFunctionType(let type): "no function is bound to type \(type)"
        case .rejected(let why): "the function rejected the message: \(why)"
        case .noIngressBinding(let topic): "no ingress binding for topic \(topic)"
        }
    }
}
