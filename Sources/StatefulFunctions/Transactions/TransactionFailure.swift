/// An error with a stable, machine-readable code. When a transaction's participant throws one,
/// its code reaches the coordinator's outcome handler in `TransactionFailure.code`, so the
/// handler tells failures apart without parsing text.
public protocol CodedError: Error {
    /// A short identifier of the kind of failure, e.g. `insufficient-funds`.
    var code: String { get }
}

/// Why a transaction failed: a 2PC participant voted no, or a saga step failed.
public struct TransactionFailure: Sendable, Hashable, CustomStringConvertible {
    /// The `code` of the `CodedError` the participant threw. For failures the engine finds, the
    /// engine's code: `unknown-function-type` (no function is bound to a participant's type),
    /// `read-only-write` (a read-only 2PC invocation changed state) or `remote-call-failed` (a
    /// remote participant's endpoint gave no answer within its call timeout). nil when the participant
    /// threw an error without a code.
    public var code: String?
    /// What went wrong, for people: the participant's error as text, or the engine's sentence.
    public var reason: String

    /// A failure with this code and text.
    public init(code: String?, reason: String) {
        self.code = code
        self.reason = reason
    }

    public var description: String { reason }
}
