/// A function instance: its type and its id. Each address has its own persistent state.
public struct Address: Hashable, Sendable, CustomStringConvertible {
    public let type: TypeName
    public let id: String
    /// Computed once: addresses are dictionary keys on the hot path.
    private let hash: Int

    public init(_ type: TypeName, _ id: String) {
        self.type = type
        self.id = id
        var hasher = Hasher()
        hasher.combine(type)
        hasher.combine(id)
        hash = hasher.finalize()
    }

    public var description: String { "\(type)/\(id)" }

    public static func == (lhs: Address, rhs: Address) -> Bool {
        lhs.hash == rhs.hash && lhs.id == rhs.id && lhs.type == rhs.type
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(hash)
    }
}
