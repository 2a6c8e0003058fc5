/// One stored state value. Values live decoded while a partition runs and are encoded only for
/// checkpoints; values restored from a checkpoint stay encoded until first read.
public enum StateCell: @unchecked Sendable {
    /// Bytes as the spec's codec wrote them, e.g. restored from a checkpoint; `value(for:)` decodes
    /// them.
    case encoded([UInt8])
    /// `value` is the `Value` of the spec that wrote it; `encode` turns it into bytes.
    case decoded(value: Any, encode: @Sendable (Any) throws -> [UInt8])
    /// `value` with the bytes its checkpoint wrote: read without decoding, and written again
    /// (in a snapshot) without encoding.
    case checkpointed(value: Any, bytes: [UInt8])

    /// Bytes for a checkpoint.
    public func bytes() throws(StatefulFunctionError) -> [UInt8] {
        switch self {
        case .encoded(let bytes), .checkpointed(_, let bytes):
            return bytes
        case .decoded(let value, let encode):
            do { return try encode(value) } catch {
                throw StatefulFunctionError(.stateEncoding, "cannot encode \(type(of: value)): \(error)")
            }
        }
    }

    @inlinable
    static func decoded<V>(_ value: V, spec: ValueSpec<V>) -> StateCell {
        .decoded(value: value, encode: spec.encodeErased)
    }

    @inlinable
    /// The value as `spec`'s type, decoded with the spec's codec when the cell holds bytes. Throws
    /// `stateDecoding` when the cell holds a value of another type or bytes that do not decode.
    public func value<V>(for spec: ValueSpec<V>) throws(StatefulFunctionError) -> V {
        switch self {
        case .decoded(let value, _), .checkpointed(let value, _):
            if let typed = value as? V { return typed }
            throw StatefulFunctionError(.stateDecoding, "state \"\(spec.name)\" holds a \(type(of: value)), not a \(V.self)")
        case .encoded(let bytes):
            do { return try spec.codec.decode(bytes) } catch {
                throw StatefulFunctionError(.stateDecoding, "state \"\(spec.name)\" is not a \(V.self): \(error)")
            }
        }
    }
}

/// The state of one address: declared name → value. Functions declare few values, so a small
/// array searched by name beats hashing; names are kept apart from values so that the search
/// touches only names.
public struct AddressState: Sendable {
    @usableFromInline var storedNames: [String] = []
    /// `storedCells[i]` is the value of `storedNames[i]`.
    @usableFromInline var storedCells: [StateCell] = []

    /// The names of the stored values, in the order they were first set.
    public var names: [String] { storedNames }
    /// `cells[i]` is the value of `names[i]`.
    public var cells: [StateCell] { storedCells }

    @inlinable
    /// A state with no values.
    public init() {}

    /// Whether no value is stored.
    public var isEmpty: Bool { storedNames.isEmpty }

    @inlinable
    /// The value stored under `name`, or nil. Setting it works like `update(_:to:)`: nil deletes
    /// the value.
    public subscript(name: String) -> StateCell? {
        get {
            guard let index = storedNames.firstIndex(of: name) else { return nil }
            return storedCells[index]
        }
        set { update(name, to: newValue) }
    }

    /// Keeps `bytes`, what the checkpoint wrote for the value at `index`, beside the value, so
    /// that a snapshot does not encode it again.
    public mutating func keepBytes(_ bytes: [UInt8], at index: Int) {
        if case .decoded(let value, _) = storedCells[index] { storedCells[index] = .checkpointed(value: value, bytes: bytes) }
    }

    /// Sets (or with nil deletes) the value of `name`; returns the index of the value set in
    /// `names`, nil for a deletion. A deletion moves the values after it down by one.
    @inlinable
    @discardableResult
    public mutating func update(_ name: String, to cell: StateCell?) -> Int? {
        let index = storedNames.firstIndex(of: name)
        switch (index, cell) {
        case (let index?, let cell?):
            storedCells[index] = cell
            return index
        case (let index?, nil):
            storedNames.remove(at: index)
            storedCells.remove(at: index)
            return nil
        case (nil, let cell?):
            storedNames.append(name)
            storedCells.append(cell)
            return storedNames.count - 1
        case (nil, nil):
            return nil
        }
    }
}

/// A state change of one invocation: a new value, or nil to delete.
public struct StateWrite: Sendable {
    /// The name of the state value written.
    public let name: String
    /// The new value, or nil when the write deletes it.
    public let cell: StateCell?

    @inlinable
    /// A write of `cell` to the value named `name`; a nil `cell` deletes it.
    public init(name: String, cell: StateCell?) {
        self.name = name
        self.cell = cell
    }
}
