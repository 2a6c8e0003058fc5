/// A function instance: its type and its id. Each address has its own persistent state.
public struct Address: Hashable, Sendable, CustomStringConvertible {
    /// The function type, which selects the code that runs.
    public let type: TypeName
    /// The instance's id within its type, e.g. a user or an account id.
    public let id: String
    /// Computed once: addresses are dictionary keys on the hot path.
    private let hash: Int

    /// The address of instance `id` of function type `type`.
    public init(_ type: TypeName, _ id: String) {
        self.type = type
        self.id = id
        var hasher = Hasher()
        hasher.combine(type)
        hasher.combine(id)
        hash = hasher.finalize()
    }

    /// Written `namespace/name/id`.
    public var description: String { "\(type)/\(id)" }

    /// Addresses are equal when their types and ids are.
    public static func == (lhs: Address, rhs: Address) -> Bool {
        lhs.hash == rhs.hash && lhs.id == rhs.id && lhs.type == rhs.type
    }

    /// Feeds the hash of type and id, computed once when the address was made, into `hasher`.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(hash)
    }

    /// What dictionaries and sets ask for: the stored hash (already a SipHash of type and id,
    /// with this process's random key) with the table's seed, without hashing it again.
    public func _rawHashValue(seed: Int) -> Int { hash ^ seed }
}
