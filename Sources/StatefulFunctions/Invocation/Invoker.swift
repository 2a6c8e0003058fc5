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
    /// `binding` is `binding(for: target.type)`, for a caller that looked it up already.
    public func invoke(
        _ target: Address, binding: FunctionBinding?, caller: Address?, message: Message, state: AddressState, now: Int64,
        in context: Context
    ) -> InvocationOutcome {
        guard let binding, binding.type == target.type else { return .failed(.unknownFunctionType(target.type)) }
        context.reset(address: target, caller: caller, now: now, declaredStates: binding.stateNames, stored: state)
        // Let go of the state once done, so the caller can update it in place.
        defer { context.dropStoredState() }
        do {
            try binding.body(context, message)
            return .completed
        } catch {
            // A failed invocation leaves nothing behind; a matching handler starts afresh.
            context.reset(address: target, caller: caller, now: now, declaredStates: binding.stateNames, stored: state)
            guard let handler = exceptionHandlers.first(where: { $0.matches(error) }) else {
                return .failed(.rejected(String(describing: error)))
            }
            do {
                try handler.run(context, error, message)
                return .handled(String(describing: error))
            } catch let handlerError {
                context.reset(address: target, caller: caller, now: now, declaredStates: binding.stateNames, stored: state)
                return .failed(.rejected("\(error); its exception handler failed too: \(handlerError)"))
            }
        }
    }
}
