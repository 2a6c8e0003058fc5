/// What a function sees during one invocation: its address, the caller, its state, and the
/// ways to cause effects. Everything is buffered: the runtime applies the state changes and
/// effects only if the invocation returns normally.
public final class Context {
    /// The address being invoked.
    public let address: Address
    /// The function that sent the message, or nil for an ingress record or a timer from outside.
    public let caller: Address?
    /// The runtime's time, milliseconds since the epoch.
    public let now: Int64

    private let declaredStates: Set<String>
    private let stored: AddressState
    private(set) var writes: [String: StateCell?] = [:]
    private(set) var effects: [Effect] = []

    init(address: Address, caller: Address?, now: Int64, declaredStates: Set<String>, stored: AddressState) {
        self.address = address
        self.caller = caller
        self.now = now
        self.declaredStates = declaredStates
        self.stored = stored
    }

    // MARK: State

    /// The value of `spec`, or nil if it was never written (or was deleted).
    public func get<V>(_ spec: ValueSpec<V>) throws(StatefulFunctionError) -> V? {
        try checkDeclared(spec)
        let cell: StateCell?? = writes[spec.name]
        switch cell {
        case .some(.some(let written)): return try written.value(for: spec)
        case .some(.none): return nil
        case .none: return try stored[spec.name]?.value(for: spec)
        }
    }

    public func set<V>(_ spec: ValueSpec<V>, _ value: V) throws(StatefulFunctionError) {
        try checkDeclared(spec)
        writes[spec.name] = .some(.decoded(value, spec: spec))
    }

    public func delete<V>(_ spec: ValueSpec<V>) throws(StatefulFunctionError) {
        try checkDeclared(spec)
        writes[spec.name] = .some(nil)
    }

    private func checkDeclared(_ spec: some StateSpec) throws(StatefulFunctionError) {
        guard declaredStates.contains(spec.name) else {
            throw StatefulFunctionError(.undeclaredState, "\(address.type) did not declare state \"\(spec.name)\"")
        }
    }

    // MARK: Effects

    /// Sends `message` to `address`.
    public func send(_ message: Message, to address: Address) {
        effects.append(.send(to: address, message: message))
    }

    /// Sends `message` to `address` after `delay`. Pass a token to be able to cancel it.
    public func send(_ message: Message, to address: Address, after delay: Duration, cancellationToken: String? = nil) {
        let milliseconds = delay.components.seconds * 1_000 + delay.components.attoseconds / 1_000_000_000_000_000
        effects.append(.sendDelayed(to: address, message: message, delayMilliseconds: max(0, milliseconds),
                                    cancellationToken: cancellationToken))
    }

    /// Cancels a pending delayed message this address sent with `token`.
    public func cancelDelayed(token: String) {
        effects.append(.cancelDelayed(cancellationToken: token))
    }

    /// Writes a record to a Kafka egress topic.
    public func egress(_ record: EgressRecord) {
        effects.append(.egress(record))
    }

    /// Answers the function that sent the current message.
    public func reply(_ message: Message) throws(StatefulFunctionError) {
        guard let caller else {
            throw StatefulFunctionError(.noCaller, "\(address) was not invoked by a function, so it cannot reply")
        }
        send(message, to: caller)
    }
}
