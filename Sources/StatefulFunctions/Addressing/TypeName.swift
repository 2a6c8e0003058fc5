/// The type of a function, written `namespace/name` (e.g. `example/greeter`).
public struct TypeName: Hashable, Sendable, Comparable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let namespace: String
    public let name: String

    public init(namespace: String, name: String) {
        self.namespace = namespace
        self.name = name
    }

    /// Parses `namespace/name`; both parts must be non-empty and the name has no further `/`.
    public init(parsing text: some StringProtocol) throws(StatefulFunctionError) {
        guard let slash = text.lastIndex(of: "/"), slash != text.startIndex, text.index(after: slash) != text.endIndex else {
            throw StatefulFunctionError(.invalidTypeName, "\"\(text)\" is not of the form namespace/name")
        }
        self.init(namespace: String(text[..<slash]), name: String(text[text.index(after: slash)...]))
    }

    /// For literals in code; a malformed literal is a programming error.
    public init(stringLiteral value: String) {
        do { try self.init(parsing: value) } catch { preconditionFailure("\(error)") }
    }

    public var description: String { "\(namespace)/\(name)" }

    public static func < (lhs: TypeName, rhs: TypeName) -> Bool { lhs.description < rhs.description }
}
