import StatefulFunctions

/// Writes one flat JSON object field by field, for records the runtime emits on every
/// transaction (the coordinators' progress log), without building a value to encode first.
/// Fields appear in the order written.
struct JSONObjectWriter {
    private var output = JSONOutput(capacity: 256)
    private var empty = true

    init() {
        output.append(UInt8(ascii: "{"))
    }

    mutating func field(_ key: String, _ value: String) {
        name(key)
        output.string(value)
    }

    mutating func field(_ key: String, _ value: Int64) {
        name(key)
        output.append(String(value))
    }

    mutating func field(_ key: String, _ values: [String]) {
        name(key)
        output.append(UInt8(ascii: "["))
        for (index, value) in values.enumerated() {
            if index > 0 { output.append(UInt8(ascii: ",")) }
            output.string(value)
        }
        output.append(UInt8(ascii: "]"))
    }

    /// The object's bytes, closed.
    func finished() -> [UInt8] {
        output.bytes + [UInt8(ascii: "}")]
    }

    private mutating func name(_ key: String) {
        if !empty { output.append(UInt8(ascii: ",")) }
        empty = false
        output.string(key)
        output.append(UInt8(ascii: ":"))
    }
}
