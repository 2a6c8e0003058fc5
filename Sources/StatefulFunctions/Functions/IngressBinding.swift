/// How records of an ingress topic become invocations: of one function type with an id taken
/// from the record, of any address a custom router picks, or of the address picked for the
/// record's value decoded (`decoding`).
public struct IngressBinding: Sendable {
    /// How a record's value becomes the message payload.
    public enum PayloadCodec: String, Sendable {
        /// The value must be a JSON document; it is passed on as the message payload.
        case json
        /// The value is passed on as it is.
        case raw
    }

    /// The ingress topic whose records this binding turns into invocations.
    public let topic: String
    /// How a record's value is checked before it becomes the payload.
    public let codec: PayloadCodec
    /// The type name messages from this topic carry (`Message.typeName`), e.g. a remote
    /// function's `io.statefun.types/string`; nil for none.
    public var valueTypeName: String?
    /// The invocation for a record (its message without `valueTypeName`), or why it cannot be one.
    private let router: @Sendable (IngressRecord) -> Result<(Address, Message), DeadLetterReason>

    /// Records go to `type`, with the id `id` takes from the record (by default its key as UTF-8).
    public init(
        topic: String, type: TypeName, codec: PayloadCodec = .json,
        id: @escaping @Sendable (IngressRecord) -> String? = IngressBinding.keyAsID
    ) {
        self.init(topic: topic, codec: codec) { record in id(record).map { Address(type, $0) } }
    }

    /// Records go to the address `target` picks for each; nil means the record has no usable id
    /// and goes to the dead-letter topic.
    public init(topic: String, codec: PayloadCodec = .json, target: @escaping @Sendable (IngressRecord) -> Address?) {
        self.init(topic: topic, codec: codec) { record in
            let payload = record.value ?? []
            if codec == .json, !JSONSyntax.isValid(payload) { return .failure(Self.notJSON) }
            guard let address = target(record) else { return .failure(.missingID) }
            return .success((address, Message(bytes: payload)))
        }
    }

    /// Why a `.json` binding refuses a value that is not JSON at all.
    private static let notJSON = DeadLetterReason.undecodable("the value is not JSON")

    private init(topic: String, codec: PayloadCodec,
                 router: @escaping @Sendable (IngressRecord) -> Result<(Address, Message), DeadLetterReason>) {
        self.topic = topic
        self.codec = codec
        self.router = router
    }

    /// Records whose value is a `T` as JSON go to the address `target` picks for that value;
    /// nil means it has no usable id (a dead letter). The message keeps the decoded value, so a
    /// function of this worker that decodes it as `T` gets that value without decoding the
    /// payload again. A JSON value that is not a `T` goes to the address `undecodable` picks
    /// (e.g. a function that answers "malformed"); by default, and when it picks none, to the
    /// dead-letter topic as `undecodable`.
    public static func decoding<T: Decodable & Sendable>(
        _ type: T.Type, topic: String, target: @escaping @Sendable (T) -> Address?,
        undecodable: @escaping @Sendable (IngressRecord) -> Address? = { _ in nil }
    ) -> IngressBinding {
        IngressBinding(topic: topic, codec: .json) { record in
            let payload = record.value ?? []
            if let value = try? Message(bytes: payload).decode(T.self) {
                guard let address = target(value) else { return .failure(.missingID) }
                return .success((address, Message(bytes: payload, decoded: value)))
            }
            guard JSONSyntax.isValid(payload) else { return .failure(Self.notJSON) }
            guard let address = undecodable(record) else { return .failure(.undecodable("the value is not a \(T.self)")) }
            return .success((address, Message(bytes: payload)))
        }
    }

    /// The default id: the record's key decoded as UTF-8, or nil (the record goes to the
    /// dead-letter topic) when the key is missing or empty.
    public static let keyAsID: @Sendable (IngressRecord) -> String? = { record in
        guard let key = record.key, !key.isEmpty else { return nil }
        return String(decoding: key, as: UTF8.self)
    }

    /// The invocation for `record`, or why it cannot be one.
    public func route(_ record: IngressRecord) -> Result<(Address, Message), DeadLetterReason> {
        router(record).map { address, message in
            var message = message
            message.typeName = valueTypeName
            return (address, message)
        }
    }
}

/// Why a record or message went to the dead-letter topic.
public enum DeadLetterReason: Error, Hashable, Sendable, CustomStringConvertible {
    /// The binding found no address for the record; by default, its key is missing or empty.
    case missingID
    /// The record cannot be decoded, e.g. a value that is not JSON for a `.json` binding; the text
    /// says why.
    case undecodable(String)
    /// The record's key and value together have `bytes` bytes, more than the `limit` the runtime
    /// accepts.
    case tooLarge(bytes: Int, limit: Int)
    /// No function is bound to the target's type.
    case unknownFunctionType(TypeName)
    /// The function threw and no exception handler dealt with it, or the target cannot take the
    /// message (a coordinator invoked as a participant); the text says why, and `code` is the
    /// error's code when it is a `CodedError`.
    case rejected(String, code: String? = nil)
    /// The record came from a topic that no ingress binding covers.
    case noIngressBinding(topic: String)
    /// A remote function's endpoint did not answer within its call timeout, retries included, or
    /// its answer cannot be read; the text says what happened last.
    case remoteCallFailed(String)

    /// A short, stable identifier of the reason (e.g. `missing-id`), which the worker puts in a
    /// dead letter's headers.
    public var code: String {
        switch self {
        case .missingID: "missing-id"
        case .undecodable: "undecodable"
        case .tooLarge: "too-large"
        case .unknownFunctionType: "unknown-function-type"
        case .rejected: "rejected"
        case .noIngressBinding: "no-ingress-binding"
        case .remoteCallFailed: "remote-call-failed"
        }
    }

    /// A sentence saying what went wrong, with the details the case carries.
    public var description: String {
        switch self {
        case .missingID: "the record has no key to take the function id from"
        case .undecodable(let why): "the record cannot be decoded: \(why)"
        case .tooLarge(let bytes, let limit): "the record has \(bytes) bytes, over the limit of \(limit)"
        case .unknownFunctionType(let type): "no function is bound to type \(type)"
        case .rejected(let why, _): "the function rejected the message: \(why)"
        case .noIngressBinding(let topic): "no ingress binding for topic \(topic)"
        case .remoteCallFailed(let why): "the remote function's endpoint failed: \(why)"
        }
    }
}
