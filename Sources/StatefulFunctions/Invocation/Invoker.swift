/// How an invocation ended.
public enum InvocationOutcome: Sendable {
    /// The function returned normally.
    case completed
    /// The function threw and a registered exception handler ran instead.
    case handled(String)
    /// Nothing ran to completion (no handler matched, or the handler threw too): nothing to apply.
    case failed(DeadLetterReason)
}

extension Application {
    /// Runs the function bound to `target.type` against `state`, the address's current state,
    /// in `context` (reset first, so a runtime reuses one context for all its invocations).
    /// State is never modified here: afterwards `context.writes` and `context.effects` hold
    /// what to apply, and are empty when the invocation failed.
    ///
    /// `binding` is `binding(for: target.type)`, for a caller that looked it up already. In a
    /// `transactional` invocation exception handlers do not run (a throw is a "no" vote or a
    /// failed step) and `context.reply` sets `context.result` for the coordinator.
    public func invoke(
        _ target: Address, binding: FunctionBinding?, caller: Address?, message: Message, state: AddressState, now: Int64,
        transactional: Bool = false, in context: Context
    ) -> InvocationOutcome {
        guard let binding, binding.type == target.type else { return .failed(.unknownFunctionType(target.type)) }
        switch binding.role {
        case .function(let body):
            return run(target, binding: binding, caller: caller, message: message, state: state, now: now,
                       transactional: transactional, in: context) { try body($0, message) }
        case .coordinator:
            return .failed(.rejected("\(target.type) is a coordinator; a transaction cannot invoke it"))
        case .remote:
            return .failed(.rejected("\(target.type) is a remote function; only its endpoint runs it"))
        }
    }

    /// Runs `spec.plan` of the coordinator at `target` for `request`; the plan is nil unless the
    /// outcome is `.completed`.
    public func plan(
        _ target: Address, binding: FunctionBinding, spec: CoordinatorSpec, caller: Address?, request: Message,
        state: AddressState, now: Int64, in context: Context
    ) -> (InvocationOutcome, TransactionPlan?) {
        var plan: TransactionPlan?
        let outcome = run(target, binding: binding, caller: caller, message: request, state: state, now: now,
                          transactional: false, in: context) { plan = try spec.plan($0, request) }
        guard case .completed = outcome else { return (outcome, nil) }
        return (outcome, plan)
    }

    /// Runs `spec.outcome` of the coordinator at `target` with the ended transaction.
    public func finish(
        _ target: Address, binding: FunctionBinding, spec: CoordinatorSpec, caller: Address?, outcome: TransactionOutcome,
        state: AddressState, now: Int64, in context: Context
    ) -> InvocationOutcome {
        run(target, binding: binding, caller: caller, message: outcome.request, state: state, now: now,
            transactional: false, in: context) { try spec.outcome($0, outcome) }
    }

    private func run(
        _ target: Address, binding: FunctionBinding, caller: Address?, message: Message, state: AddressState, now: Int64,
        transactional: Bool, in context: Context, _ body: (Context) throws -> Void
    ) -> InvocationOutcome {
        context.reset(address: target, caller: caller, now: now, declaredStates: binding.stateNames, stored: state,
                      transactional: transactional)
        // Let go of the state once done, so the caller can update it in place.
        defer { context.dropStoredState() }
        do {
            try body(context)
            return .completed
        } catch {
            // A failed invocation leaves nothing behind; a matching handler starts afresh.
            context.reset(address: target, caller: caller, now: now, declaredStates: binding.stateNames, stored: state,
                          transactional: transactional)
            guard !transactional, let handler = exceptionHandlers.first(where: { $0.matches(error) }) else {
                return .failed(.rejected(String(describing: error), code: (error as? CodedError)?.code))
            }
            do {
                try handler.run(context, error, message)
                return .handled(String(describing: error))
            } catch let handlerError {
                context.reset(address: target, caller: caller, now: now, declaredStates: binding.stateNames, stored: state,
                              transactional: false)
                return .failed(.rejected("\(error); its exception handler failed too: \(handlerError)"))
            }
        }
    }
}
