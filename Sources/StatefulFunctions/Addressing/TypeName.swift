/// The type of a function, written `namespace/name` (e.g. `example/greeter`).
public struct TypeName: Hashable, Sendable, Comparable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// One shared reference: addresses are copied on every invocation, and a type name of two
    /// strings would cost two reference counts per copy.
    private final class Storage: Sendable {
        let namespace: String
        let name: String
        let hash: Int

        init(namespace: String, name: String) {
            self.namespace = namespace
            self.name = name
            var hasher = Hasher()
            hasher.combine(namespace)
            hasher.combine(name)
            hash = hasher.finalize()
        }
    }

    private let storage: Storage

    /// The part before the last `/`, e.g. `example`.
    public var namespace: String { storage.namespace }
    /// The part after the last `/`, e.g. `greeter`.
    public var name: String { storage.name }

    /// A type name of these two parts, taken as they are: unlike `init(parsing:)`, nothing is
    /// checked.
    public init(namespace: String, name: String) {
        storage = Storage(namespace: namespace, name: name)
    }

    /// Type names are equal when their namespaces and names are.
    public static func == (lhs: TypeName, rhs: TypeName) -> Bool {
        lhs.storage === rhs.storage
            || (lhs.storage.hash == rhs.storage.hash && lhs.name == rhs.name && lhs.namespace == rhs.namespace)
    }

    /// Feeds the hash of namespace and name, computed once when the type name was made, into
    /// `hasher`.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(storage.hash)
    }

    /// What dictionaries and sets ask for: the stored hash (already a SipHash of both parts,
    /// with this process's random key) with the table's seed, without hashing it again.
    public func _rawHashValue(seed: Int) -> Int { storage.hash ^ seed }

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

    /// Written `namespace/name`.
    public var description: String { "\(namespace)/\(name)" }

    /// Orders type names by their `namespace/name` text.
    public static func < (lhs: TypeName, rhs: TypeName) -> Bool { lhs.description < rhs.description }
}
