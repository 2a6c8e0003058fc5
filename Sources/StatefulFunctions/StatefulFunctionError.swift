/// The one error type of the SDK: a code, a message and where it was raised.
public struct StatefulFunctionError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        case invalidTypeName
        case undeclaredState
        case stateDecoding
        case stateEncoding
        case messageDecoding
        case messageEncoding
        case noCaller
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

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code && lhs.message == rhs.message }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
        hasher.combine(message)
    }
}
