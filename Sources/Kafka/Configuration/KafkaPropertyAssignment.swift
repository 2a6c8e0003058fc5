/// A librdkafka property written as `name=value`, as a command line's `--kafka` option gives
/// it.
public struct KafkaPropertyAssignment: Sendable, Equatable {
    /// The property's name, e.g. `compression.type`: the text before the first `=`, never empty.
    public let name: String
    /// The property's value: the text after the first `=`, possibly empty.
    public let value: String

    /// The value is everything after the first `=`, so it may contain `=` itself.
    public init(parsing assignment: String) throws(KafkaError) {
        guard let equals = assignment.firstIndex(of: "="), equals != assignment.startIndex else {
            throw KafkaError(.configuration, "a librdkafka property is given as name=value, got \"\(assignment)\"")
        }
        name = String(assignment[..<equals])
        value = String(assignment[assignment.index(after: equals)...])
    }

    /// The properties `assignments` set; a later one wins.
    public static func properties(_ assignments: [KafkaPropertyAssignment]) -> [String: String] {
        Dictionary(assignments.map { ($0.name, $0.value) }, uniquingKeysWith: { _, later in later })
    }
}
