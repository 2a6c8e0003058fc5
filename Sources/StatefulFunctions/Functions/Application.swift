/// The body of a function: reads `message`, uses `context`. Throwing is an explicit failure:
/// the invocation leaves no state change and sends nothing.
public typealias FunctionBody = @Sendable (Context, Message) throws -> Void

/// A function type bound to its code and its declared state. A class: every invocation passes
/// its binding along, and one reference count is cheaper than one per field.
public final class FunctionBinding: Sendable {
    /// What a bound type runs: a plain function, or a transaction coordinator.
    public enum Role: Sendable {
        /// A plain function and its body.
        case function(FunctionBody)
        /// A coordinator, with its transaction protocol, plan and outcome handler.
        case coordinator(CoordinatorSpec)
        /// A function served by a remote endpoint; its state is declared by the endpoint.
        case remote(RemoteEndpoint)
    }

    /// The function type this binding serves.
    public let type: TypeName
    /// The state values declared for the type; its code may use only these (others throw
    /// `undeclaredState`).
    public let states: [any StateSpec]
    let stateNames: [String]
    /// Whether the type is a plain function or a coordinator, with its code.
    public let role: Role

    init(type: TypeName, states: [any StateSpec], role: Role) {
        self.type = type
        self.states = states
        stateNames = states.map(\.name)
        self.role = role
    }

    /// The coordinator's protocol and code, when the type is a coordinator.
    public var coordinator: CoordinatorSpec? {
        if case .coordinator(let spec) = role { spec } else { nil }
    }

    /// The endpoint serving the type, when it is a remote function.
    public var remote: RemoteEndpoint? {
        if case .remote(let endpoint) = role { endpoint } else { nil }
    }
}

/// Runs for a failed plain invocation whose error matches; may reply, send or write egress.
struct ExceptionHandler: Sendable {
    let matches: @Sendable (any Error) -> Bool
    let run: @Sendable (Context, any Error, Message) throws -> Void
}

/// An application: its functions, exception handlers and ingress bindings. Build it once and
/// hand it to a worker or to the test harness.
public struct Application: Sendable {
    /// The application's name. The `statefun-worker` command takes it as the application id when
    /// none is given.
    public let name: String
    private(set) var functions: [TypeName: FunctionBinding] = [:]
    private(set) var exceptionHandlers: [ExceptionHandler] = []
    /// Remote endpoints, each with one binding per type it serves (made on first use).
    public private(set) var remoteEndpoints: [RemoteEndpoint] = []
    /// The ingress bindings, in the order they were added. A record goes to the first binding for
    /// its topic.
    public private(set) var ingresses: [IngressBinding] = []
    /// Egress topics the worker creates at start (functions may write to others too, which
    /// then must exist or be auto-created by the broker).
    public private(set) var egressTopics: Set<String> = []

    /// An application called `name`, with no functions, handlers, ingresses or egress topics yet.
    public init(name: String) {
        self.name = name
    }

    /// Binds `type` to `body`, with the state it may use. Binding a type twice is a programming error.
    public mutating func bind(_ type: TypeName, states: [any StateSpec] = [], _ body: @escaping FunctionBody) {
        add(FunctionBinding(type: type, states: states, role: .function(body)))
    }

    /// Binds `type` to a coordinator: for each message it receives, `plan` returns the invocations
    /// of one transaction, which the runtime runs with `transactionProtocol`; `outcome` runs when
    /// the transaction has ended. One transaction per coordinator address runs at a time; later
    /// requests to the same address wait their turn.
    public mutating func bindCoordinator(
        _ type: TypeName, protocol transactionProtocol: TransactionProtocol, states: [any StateSpec] = [],
        plan: @escaping PlanBody, outcome: @escaping OutcomeBody
    ) {
        let spec = CoordinatorSpec(transactionProtocol: transactionProtocol, plan: plan, outcome: outcome)
        add(FunctionBinding(type: type, states: states, role: .coordinator(spec)))
    }

    /// Serves the types `endpoint.functions` names from a remote endpoint. A type bound to Swift
    /// code stays with its code; of two endpoints serving a type, the first added wins.
    public mutating func bindRemote(_ endpoint: RemoteEndpoint) {
        remoteEndpoints.append(endpoint)
    }

    private mutating func add(_ binding: FunctionBinding) {
        precondition(functions[binding.type] == nil, "function type \(binding.type) is bound twice")
        functions[binding.type] = binding
    }

    /// Registers a handler for failures of plain (non-transactional) invocations that throw `E`.
    /// The first registered handler whose type matches runs.
    public mutating func handle<E: Error>(
        _ errorType: E.Type, _ handler: @escaping @Sendable (Context, E, Message) throws -> Void
    ) {
        exceptionHandlers.append(ExceptionHandler(
            matches: { $0 is E },
            run: { context, error, message in try handler(context, error as! E, message) }
        ))
    }

    /// Adds an ingress: each record on `binding.topic` becomes an invocation of the address the
    /// binding picks for it. Only the first binding added for a topic is used.
    public mutating func ingress(_ binding: IngressBinding) {
        ingresses.append(binding)
    }

    /// Declares an egress topic, so that it exists before the first record is written to it.
    public mutating func egress(topic: String) {
        egressTopics.insert(topic)
    }

    /// The binding of `type`, or nil when no function, coordinator or remote endpoint serves it.
    public func binding(for type: TypeName) -> FunctionBinding? {
        if let binding = functions[type] { return binding }
        guard let endpoint = remoteEndpoints.first(where: { $0.functions.contains(type) }) else { return nil }
        return FunctionBinding(type: type, states: [], role: .remote(endpoint))
    }
}
