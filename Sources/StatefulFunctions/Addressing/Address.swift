/// A function instance: its type and its id. Each address has its own persistent state.
public struct Address: Hashable, Sendable, CustomStringConvertible {
    public let type: TypeName
    public let id: String

    public init(_ type: TypeName, _ id: String) {
        self.type = type
        self.id = id
    }

    public var description: String { "\(type)/\(id)" }
}
