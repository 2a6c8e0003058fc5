/// The one error type of the SDK: a code, a message and where it was raised.
public struct StatefulFunctionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of error it is. The raw value starts `description`.
    public enum Code: String, Sendable, Hashable {
        /// A type name is not of the form `namespace/name`.
        case invalidTypeName
        /// A function read or wrote a state value it did not declare when it was bound.
        case undeclaredState
        /// A stored state value is not of the spec's type, or its bytes do not decode with the
        /// spec's codec.
        case stateDecoding
        /// A state value cannot be encoded to bytes with its spec's codec.
        case stateEncoding
        /// A message payload is not the JSON of the requested type.
        case messageDecoding
        /// A value cannot be encoded as a JSON message.
        case messageEncoding
        /// `Context.reply` was called outside a transaction in an invocation no function sent (an
        /// ingress record or a timer from outside).
        case noCaller
    }

    /// What kind of error it is; decide on this rather than on `message`.
    public let code: Code
    /// What went wrong, in words, for logs and people.
    public let message: String
    /// The source file (`#fileID`) where the error was raised.
    public let file: String
    /// The line in `file` where the error was raised.
    public let line: UInt

    /// An error with `code` and `message`; `file` and `line` default to the caller's location.
    public init(_ code: Code, _ message: String, file: String = #fileID, line: UInt = #line) {
        self.code = code
        self.message = message
        self.file = file
        self.line = line
    }

    /// `code: message`, without the source location.
    public var description: String { "\(code.rawValue): \(message)" }

    /// Errors are equal when their codes and messages are; where they were raised does not count.
    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code && lhs.message == rhs.message }
    /// Hashes the code and the message, consistently with `==`.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
        hasher.combine(message)
    }
}
