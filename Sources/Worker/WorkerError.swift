/// The one error type of the worker: a code, a message and where it was raised.
public struct WorkerError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case checkpointFailed
        /// The partition's open epochs may depend on epochs that will never count: it starts over.
        case restartNeeded
        case inputsNotPositioned
        case topicMismatch
        /// The worker was silent longer than its group session allows (see `SessionLease`).
        case cutOff
    }

    public let code: Code
    public let message: String
    public let file: String
    public let line: UInt

    public init(_ code: Code, _ message: String, file: String = #fileID, line: UInt = #line) {
        self.code = code
        self.message = message
        self.file = file
        self.line = line
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
