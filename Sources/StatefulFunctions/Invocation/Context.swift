/// What a function sees during one invocation: its address, the caller, its state, and the
/// ways to cause effects. Everything is buffered: the runtime applies the state changes and
/// effects only if the invocation returns normally.
///
/// A context is valid only during the invocation it is passed to: runtimes reuse it. One
/// invocation uses it at a time, so its properties skip dynamic exclusivity checks.
public final class Context {
    /// The address being invoked.
    @exclusivity(unchecked) public private(set) var address = Address("statefun/none", "")
    /// The function that sent the message, or nil for an ingress record or a timer from outside.
    @exclusivity(unchecked) public private(set) var caller: Address?
    /// The runtime's time, milliseconds since the epoch.
    @exclusivity(unchecked) public private(set) var now: Int64 = 0

    /// Few per function: a linear scan beats hashing.
    @exclusivity(unchecked) @usableFromInline var declaredStates: [String] = []
    @exclusivity(unchecked) @usableFromInline var stored = AddressState()
    /// State changes of the invocation, in write order, one per name.
    @exclusivity(unchecked) public private(set) var writes: [StateWrite] = []
    /// Effects of the invocation, in order.
    @exclusivity(unchecked) public private(set) var effects: [Effect] = []
    /// True while the function takes part in a transaction: a reply then goes to the coordinator
    /// as the invocation's result.
    @exclusivity(unchecked) public private(set) var isTransactional = false
    /// The reply of a transactional invocation.
    @exclusivity(unchecked) public private(set) var result: Message?

    /// An empty context, for a runtime to reuse through `Application.invoke`.
    public init() {}

    func reset(
        address: Address, caller: Address?, now: Int64, declaredStates: [String], stored: AddressState, transactional: Bool
    ) {
        self.address = address
        isTransactional = transactional
        result = nil
        self.caller = caller
        self.now = now
        self.declaredStates = declaredStates
        self.stored = stored
        writes.removeAll(keepingCapacity: true)
        effects.removeAll(keepingCapacity: true)
    }

    func dropStoredState() {
        stored = AddressState()
    }

    // MARK: State

    /// The value of `spec`, or nil if it was never written (or was deleted).
    @inlinable
    public func get<V>(_ spec: ValueSpec<V>) throws(StatefulFunctionError) -> V? {
        try checkDeclared(spec)
        if let written = writes.first(where: { $0.name == spec.name }) { return try written.cell?.value(for: spec) }
        return try stored[spec.name]?.value(for: spec)
    }

    @inlinable
    /// Sets `spec` to `value`; a later `get` in the same invocation returns it. Throws
    /// `undeclaredState` when the function did not declare `spec`.
    public func set<V>(_ spec: ValueSpec<V>, _ value: V) throws(StatefulFunctionError) {
        try checkDeclared(spec)
        record(StateWrite(name: spec.name, cell: .decoded(value, spec: spec)))
    }

    @inlinable
    /// Deletes the value of `spec`; a later `get` in the same invocation returns nil. Throws
    /// `undeclaredState` when the function did not declare `spec`.
    public func delete<V>(_ spec: ValueSpec<V>) throws(StatefulFunctionError) {
        try checkDeclared(spec)
        record(StateWrite(name: spec.name, cell: nil))
    }

    @usableFromInline
    func record(_ write: StateWrite) {
        if let index = writes.firstIndex(where: { $0.name == write.name }) {
            writes[index] = write
        } else {
            writes.append(write)
        }
    }

    @inlinable
    func checkDeclared(_ spec: some StateSpec) throws(StatefulFunctionError) {
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
        effects.append(.sendDelayed(to: address, message: message, delayMilliseconds: max(0, delay.wholeMilliseconds),
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

    /// Answers the function that sent the current message. In a transaction, the answer goes to
    /// the coordinator as this invocation's result (`TransactionOutcome.results`).
    public func reply(_ message: Message) throws(StatefulFunctionError) {
        if isTransactional {
            result = message
            return
        }
        guard let caller else {
            throw StatefulFunctionError(.noCaller, "\(address) was not invoked by a function, so it cannot reply")
        }
        send(message, to: caller)
    }
}
