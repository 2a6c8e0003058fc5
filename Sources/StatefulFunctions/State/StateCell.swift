/// One stored state value. Values live decoded while a partition runs and are encoded only for
/// checkpoints; values restored from a checkpoint stay encoded until first read.
public enum StateCell: @unchecked Sendable {
    case encoded([UInt8])
    /// `value` is the `Value` of the spec that wrote it; `encode` turns it into bytes.
    case decoded(value: Any, encode: @Sendable () throws -> [UInt8])

    /// Bytes for a checkpoint.
    public func bytes() throws(StatefulFunctionError) -> [UInt8] {
        switch self {
        case .encoded(let bytes):
            return bytes
        case .decoded(let value, let encode):
            do { return try encode() } catch {
                throw StatefulFunctionError(.stateEncoding, "cannot encode \(type(of: value)): \(error)")
            }
        }
    }

    static func decoded<V>(_ value: V, spec: ValueSpec<V>) -> StateCell {
        let codec = spec.codec
        return .decoded(value: value, encode: { try codec.encode(value) })
    }

    public func value<V>(for spec: ValueSpec<V>) throws(StatefulFunctionError) -> V {
        switch self {
        case .decoded(let value, _):
            if let typed = value as? V { return typed }
            throw StatefulFunctionError(.stateDecoding, "state \"\(spec.name)\" holds a \(type(of: value)), not a \(V.self)")
        case .encoded(let bytes):
            do { return try spec.codec.decode(bytes) } catch {
                throw StatefulFunctionError(.stateDecoding, "state \"\(spec.name)\" is not a \(V.self): \(error)")
            }
        }
    }
}

/// The state of one address: declared name → value.
public typealias AddressState = [String: StateCell]
