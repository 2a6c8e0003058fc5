/// A librdkafka property written as `name=value`, as a command line's `--kafka` option gives
/// it.
public struct KafkaPropertyAssignment: Sendable, Equatable {
    public let name: String
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
