import StatefulFunctions

/// The seed's greeter: counts greetings per name and writes a greeting to an egress topic.
///
/// Ingress `greeter-requests`: key = the name, value = `{"name": "alice"}`.
/// Egress `greetings`: key = the name, value = `{"name": "alice", "seen": 3, "greeting": "..."}`.
public enum Greeter {
    public static let type: TypeName = "example/greeter"
    public static let requestsTopic = "greeter-requests"
    public static let greetingsTopic = "greetings"
    public static let seenCount = ValueSpec<Int>("seen_count")

    public struct Request: Codable, Sendable {
        public var name: String
        public init(name: String) { self.name = name }
    }

    public struct Greeting: Codable, Sendable, Equatable {
        public var name: String
        public var seen: Int
        public var greeting: String
    }

    /// The greeter reading `requestsTopic` and writing `greetingsTopic`.
    public static func application(requestsTopic: String = requestsTopic, greetingsTopic: String = greetingsTopic) -> Application {
        var app = Application(name: "greeter")
        app.bind(type, states: [seenCount]) { context, message in
            let request = try message.decode(Request.self)
            let seen = (try context.get(seenCount) ?? 0) + 1
            try context.set(seenCount, seen)
            let greeting = Greeting(name: request.name, seen: seen, greeting: greet(request.name, seen: seen))
            context.egress(EgressRecord(topic: greetingsTopic, key: Array(request.name.utf8),
                                        value: try Message(json: greeting).payload))
        }
        app.ingress(IngressBinding(topic: requestsTopic, type: type))
        app.egress(topic: greetingsTopic)
        return app
    }

    static func greet(_ name: String, seen: Int) -> String {
        switch seen {
        case 1: "Hello \(name)! Nice to meet you."
        case 2: "Hello again \(name)!"
        default: "Hello \(name), this is visit number \(seen)."
        }
    }
}
