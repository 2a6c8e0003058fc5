/// The result of one invocation, for the runtime to apply atomically.
public struct InvocationResult: Sendable {
    public enum Outcome: Sendable {
        /// The function returned normally.
        case completed
        /// The function threw and a registered exception handler ran instead.
        case handled(String)
        /// Nothing ran to completion: no handler matched, or the handler threw too.
        case failed(DeadLetterReason)
    }

    public let outcome: Outcome
    /// State changes for the invoked address: a value, or nil to delete.
    public let writes: [String: StateCell?]
    public let effects: [Effect]

    static func failed(_ reason: DeadLetterReason) -> InvocationResult {
        InvocationResult(outcome: .failed(reason), writes: [:], effects: [])
    }
}

extension Application {
    /// Runs the function bound to `target.type` against `state`, the address's current state.
    /// State is never modified here: the result carries the writes.
    public func invoke(
        _ target: Address, caller: Address?, message: Message, state: AddressState, now: Int64
    ) -> InvocationResult {
        guard let binding = binding(for: target.type) else { return .failed(.unknownFunctionType(target.type)) }
        let context = Context(address: target, caller: caller, now: now, declaredStates: binding.stateNames, stored: state)
        do {
            try binding.body(context, message)
            return InvocationResult(outcome: .completed, writes: context.writes, effects: context.effects)
        } catch {
            return handleFailure(error, binding: binding, target: target, caller: caller, message: message,
                                 state: state, now: now)
        }
    }

    /// A failed invocation leaves nothing behind; a matching handler gets a fresh context.
    private func handleFailure(
        _ error: any Error, binding: FunctionBinding, target: Address, caller: Address?, message: Message,
        state: AddressState, now: Int64
    ) -> InvocationResult {
        guard let handler = exceptionHandlers.first(where: { $0.matches(error) }) else {
            return .failed(.rejected(String(describing: error)))
        }
        let context = Context(address: target, caller: caller, now: now, declaredStates: binding.stateNames, stored: state)
        do {
            try handler.run(context, error, message)
            return InvocationResult(outcome: .handled(String(describing: error)), writes: context.writes,
                                    effects: context.effects)
        } catch let handlerError {
            return .failed(.rejected("\(error); its exception handler failed too: \(handlerError)"))
        }
    }
}
