/// librdkafka properties written as `name=value`, as a command line's `--kafka` options give
/// them.
public enum KafkaPropertyAssignments {
    /// The properties `assignments` set; a later one wins. The value is everything after the
    /// first `=`, so it may contain `=` itself.
    public static func parse(_ assignments: [String]) throws(KafkaError) -> [String: String] {
        var properties: [String: String] = [:]
        for assignment in assignments {
            guard let equals = assignment.firstIndex(of: "="), equals != assignment.startIndex else {
                throw KafkaError(.configuration, "a librdkafka property is given as name=value, got \"\(assignment)\"")
            }
            properties[String(assignment[..<equals])] = String(assignment[assignment.index(after: equals)...])
        }
        return properties
    }
}
