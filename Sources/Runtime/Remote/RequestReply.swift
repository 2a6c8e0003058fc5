import StatefulFunctions

// The messages of Apache Flink StateFun's request-reply protocol (package
// `io.statefun.sdk.reqreply`), as the engine uses them: it writes `ToFunction` and reads
// `FromFunction`. Field numbers are the protocol's.

/// A remote function's state value: its type name and its bytes (nil when it has no value).
public struct TypedValue: Hashable, Sendable {
    public var typeName: String
    public var value: [UInt8]?

    public init(typeName: String, value: [UInt8]?) {
        self.typeName = typeName
        self.value = value
    }

    fileprivate func write(to writer: inout ProtoWriter) {
        writer.string(1, typeName)
        writer.bool(2, value != nil)
        if let value, !value.isEmpty { writer.bytes(3, value) }
    }

    fileprivate init(reading bytes: ArraySlice<UInt8>) throws(ProtoReader.Malformed) {
        var reader = ProtoReader(bytes)
        var typeName = "", hasValue = false, value: [UInt8] = []
        while let (field, content) = try reader.next() {
            switch field {
            case 1: typeName = try content.string()
            case 2: hasValue = try content.integer() != 0
            case 3: value = Array(try content.bytes())
            default: break
            }
        }
        self.init(typeName: typeName, value: hasValue ? value : nil)
    }
}

/// A state value a remote function declares: its name, type and expiration.
public struct RemoteStateSpec: Hashable, Sendable {
    public enum Expiration: Hashable, Sendable {
        case never
        /// Gone this many milliseconds after it was last written.
        case afterWrite(Int64)
        /// Gone this many milliseconds after the function was last invoked (or the value written).
        case afterInvoke(Int64)
    }

    public var name: String
    public var typeName: String
    public var expiration: Expiration

    public init(name: String, typeName: String, expiration: Expiration = .never) {
        self.name = name
        self.typeName = typeName
        self.expiration = expiration
    }
}

/// One batch of invocations of one address, with the state it has (`ToFunction`).
public struct RemoteRequest: Sendable {
    public var target: Address
    /// Every declared state value, in declaration order; those without a value have `value` nil.
    public var states: [(name: String, value: TypedValue)]
    public var invocations: [(caller: Address?, message: Message)]

    /// The bytes of the `ToFunction` message. A message without a type name goes as
    /// `RemoteRequest.untypedMessage`.
    public func encoded() -> [UInt8] {
        var writer = ProtoWriter()
        writer.message(100) { batch in
            batch.message(1) { Self.write(target, to: &$0) }
            for (name, value) in states {
                batch.message(2) { state in
                    state.string(1, name)
                    state.message(2) { value.write(to: &$0) }
                }
            }
            for (caller, message) in invocations {
                batch.message(3) { invocation in
                    if let caller { invocation.message(1) { Self.write(caller, to: &$0) } }
                    invocation.message(2) {
                        TypedValue(typeName: message.typeName ?? Self.untypedMessage, value: message.payload).write(to: &$0)
                    }
                }
            }
        }
        return writer.bytes
    }

    /// The type name of messages sent without one.
    public static let untypedMessage = "io.statefun.types/bytes"

    private static func write(_ address: Address, to writer: inout ProtoWriter) {
        writer.string(1, address.type.namespace)
        writer.string(2, address.type.name)
        writer.string(3, address.id)
    }
}

/// What a remote function answered (`FromFunction`).
public enum RemoteReply: Sendable {
    /// The batch ran: apply these, in this order.
    case result(RemoteResult)
    /// The function declares state the request did not carry: declare it and send the batch again.
    case incomplete(missing: [RemoteStateSpec])

    /// Reads a `FromFunction` message; an empty body is a result with no effects.
    public init(decoding bytes: [UInt8]) throws {
        var reader = ProtoReader(bytes)
        var reply = RemoteReply.result(RemoteResult())
        while let (field, content) = try reader.next() {
            switch field {
            case 100: reply = .result(try RemoteResult(reading: try content.bytes()))
            case 101:
                var missing: [RemoteStateSpec] = []
                var context = ProtoReader(try content.bytes())
                while let (field, spec) = try context.next() {
                    if field == 1 { missing.append(try RemoteStateSpec(reading: try spec.bytes())) }
                }
                reply = .incomplete(missing: missing)
            default: break
            }
        }
        self = reply
    }
}

/// The effects of a batch: messages, delayed messages and their cancellations, egress records
/// and state changes (`FromFunction.InvocationResponse`).
public struct RemoteResult: Sendable {
    public enum Delayed: Sendable {
        case send(to: Address, message: Message, delayMilliseconds: Int64, cancellationToken: String?)
        case cancel(token: String)
    }

    public struct Egress: Sendable {
        /// The egress's id, `namespace/type`.
        public var egress: String
        public var argument: TypedValue

        public init(egress: String, argument: TypedValue) {
            self.egress = egress
            self.argument = argument
        }
    }

    /// New values (nil deletes) by state name, in the order the function wrote them.
    public var mutations: [(name: String, value: TypedValue?)] = []
    public var messages: [(to: Address, message: Message)] = []
    public var delayed: [Delayed] = []
    public var egress: [Egress] = []

    public init() {}

    fileprivate init(reading bytes: ArraySlice<UInt8>) throws(ProtoReader.Malformed) {
        var reader = ProtoReader(bytes)
        while let (field, content) = try reader.next() {
            var nested = ProtoReader(try content.bytes())
            switch field {
            case 1:
                var delete = true, name = "", value: TypedValue?
                while let (field, content) = try nested.next() {
                    switch field {
                    case 1: delete = try content.integer() == 0
                    case 2: name = try content.string()
                    case 3: value = try TypedValue(reading: try content.bytes())
                    default: break
                    }
                }
                mutations.append((name, delete ? nil : value ?? TypedValue(typeName: "", value: nil)))
            case 2:
                var target: Address?, argument = TypedValue(typeName: "", value: nil)
                while let (field, content) = try nested.next() {
                    if field == 1 { target = try Self.address(try content.bytes()) }
                    if field == 2 { argument = try TypedValue(reading: try content.bytes()) }
                }
                guard let target else { throw ProtoReader.Malformed(description: "an outgoing message has no target") }
                messages.append((target, Self.message(argument)))
            case 3: delayed.append(try Self.delayed(&nested))
            case 4:
                var namespace = "", type = "", argument = TypedValue(typeName: "", value: nil)
                while let (field, content) = try nested.next() {
                    switch field {
                    case 1: namespace = try content.string()
                    case 2: type = try content.string()
                    case 3: argument = try TypedValue(reading: try content.bytes())
                    default: break
                    }
                }
                egress.append(Egress(egress: "\(namespace)/\(type)", argument: argument))
            default: break
            }
        }
    }

    private static func delayed(_ reader: inout ProtoReader) throws(ProtoReader.Malformed) -> Delayed {
        var cancel = false, token = "", delay: Int64 = 0, target: Address?, argument = TypedValue(typeName: "", value: nil)
        while let (field, content) = try reader.next() {
            switch field {
            case 1: delay = Int64(bitPattern: try content.integer())
            case 2: target = try address(try content.bytes())
            case 3: argument = try TypedValue(reading: try content.bytes())
            case 10: cancel = try content.integer() != 0
            case 11: token = try content.string()
            default: break
            }
        }
        if cancel { return .cancel(token: token) }
        guard let target else { throw ProtoReader.Malformed(description: "a delayed message has no target") }
        return .send(to: target, message: message(argument), delayMilliseconds: max(0, delay),
                     cancellationToken: token.isEmpty ? nil : token)
    }

    private static func message(_ value: TypedValue) -> Message {
        Message(bytes: value.value ?? [], typeName: value.typeName.isEmpty ? nil : value.typeName)
    }

    private static func address(_ bytes: ArraySlice<UInt8>) throws(ProtoReader.Malformed) -> Address {
        var reader = ProtoReader(bytes)
        var namespace = "", type = "", id = ""
        while let (field, content) = try reader.next() {
            switch field {
            case 1: namespace = try content.string()
            case 2: type = try content.string()
            case 3: id = try content.string()
            default: break
            }
        }
        guard !namespace.isEmpty, !type.isEmpty, !type.contains("/") else {
            throw ProtoReader.Malformed(description: "address \"\(namespace)/\(type)\" is not of the form namespace/name")
        }
        return Address(TypeName(namespace: namespace, name: type), id)
    }
}

extension RemoteStateSpec {
    fileprivate init(reading bytes: ArraySlice<UInt8>) throws(ProtoReader.Malformed) {
        var reader = ProtoReader(bytes)
        var name = "", typeName = "", expiration = Expiration.never
        while let (field, content) = try reader.next() {
            switch field {
            case 1: name = try content.string()
            case 2:
                var mode: UInt64 = 0, after: Int64 = 0
                var spec = ProtoReader(try content.bytes())
                while let (field, content) = try spec.next() {
                    if field == 1 { mode = try content.integer() }
                    if field == 2 { after = Int64(bitPattern: try content.integer()) }
                }
                expiration = switch mode {
                case 1: .afterWrite(after)
                case 2: .afterInvoke(after)
                default: .never
                }
            case 3: typeName = try content.string()
            default: break
            }
        }
        guard !name.isEmpty else { throw ProtoReader.Malformed(description: "a missing state value has no name") }
        self.init(name: name, typeName: typeName, expiration: expiration)
    }
}

/// The Kafka egress record a remote function writes (`io.statefun.sdk.egress.KafkaProducerRecord`).
public enum KafkaEgressRecord {
    public static let typeName = "type.googleapis.com/io.statefun.sdk.egress.KafkaProducerRecord"

    /// The record in `value`; an empty key means none.
    public static func decode(_ value: [UInt8]) throws -> EgressRecord {
        var reader = ProtoReader(value)
        var key = "", payload: [UInt8] = [], topic = ""
        while let (field, content) = try reader.next() {
            switch field {
            case 1: key = try content.string()
            case 2: payload = Array(try content.bytes())
            case 3: topic = try content.string()
            default: break
            }
        }
        guard !topic.isEmpty else { throw ProtoReader.Malformed(description: "the Kafka egress record has no topic") }
        return EgressRecord(topic: topic, key: key.isEmpty ? nil : Array(key.utf8), value: payload)
    }
}
