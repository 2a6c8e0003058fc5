import Greeter
import StatefulFunctions
import StatefulFunctionsTesting
import Testing

/// Functions used by the tests below.
private enum Shop {
    static let counter: TypeName = "test/counter"
    static let forwarder: TypeName = "test/forwarder"
    static let reminder: TypeName = "test/reminder"
    static let account: TypeName = "test/account"
    static let count = ValueSpec<Int>("count")
    static let balance = ValueSpec<Int>("balance")
    static let log = ValueSpec<[String]>("log")

    struct Insufficient: Error { let missing: Int }
    struct NotFound: Error {}

    static func application() -> Application {
        var app = Application(name: "shop")
        app.bind(counter, states: [count, log]) { context, message in
            let value = (try context.get(count) ?? 0) + 1
            try context.set(count, value)
            try context.set(log, (try context.get(log) ?? []) + [message.text])
            if context.caller != nil { try context.reply(Message(text: "counted \(value)")) }
        }
        app.bind(forwarder, states: [log]) { context, message in
            if context.caller?.type == counter {
                try context.set(log, (try context.get(log) ?? []) + [message.text])
            } else {
                context.send(message, to: Address(counter, "from-\(context.address.id)"))
            }
        }
        app.bind(reminder) { context, message in
            switch message.text {
            case "cancel": context.cancelDelayed(token: "r")
            case "schedule": context.send(Message(text: "ping"), to: Address(counter, context.address.id), after: .seconds(10),
                                  cancellationToken: "r")
            default: break  // the counter's reply
            }
        }
        app.bind(account, states: [balance, log]) { context, message in
            let amount = Int(message.text) ?? 0
            guard let current = try context.get(balance) else {
                if amount > 0 {
                    try context.set(balance, amount)
                    return
                }
                throw NotFound()
            }
            // Writes and sends before the failure must leave no trace.
            try context.set(log, ["withdraw \(amount)"])
            context.egress(EgressRecord(topic: "audit", key: context.address.id, value: "withdraw"))
            guard current + amount >= 0 else { throw Insufficient(missing: -(current + amount)) }
            try context.set(balance, current + amount)
        }
        app.handle(NotFound.self) { context, _, _ in
            context.egress(EgressRecord(topic: "responses", key: context.address.id, value: "404"))
        }
        return app
    }
}

@Suite struct HarnessTests {
    @Test func stateAccumulatesPerAddress() throws {
        let harness = FunctionTestHarness(Shop.application())
        harness.send(Message(text: "a"), to: Address(Shop.counter, "x"))
        harness.send(Message(text: "b"), to: Address(Shop.counter, "x"))
        harness.send(Message(text: "c"), to: Address(Shop.counter, "y"))
        #expect(try harness.state(Shop.count, of: Address(Shop.counter, "x")) == 2)
        #expect(try harness.state(Shop.log, of: Address(Shop.counter, "x")) == ["a", "b"])
        #expect(try harness.state(Shop.count, of: Address(Shop.counter, "y")) == 1)
        #expect(try harness.state(Shop.count, of: Address(Shop.counter, "z")) == nil)
    }

    @Test func messagesReachOtherFunctionsAndRepliesReachTheCaller() throws {
        let harness = FunctionTestHarness(Shop.application())
        let forwarder = Address(Shop.forwarder, "f")
        harness.send(Message(text: "hello"), to: forwarder)
        let counter = Address(Shop.counter, "from-f")
        #expect(try harness.state(Shop.log, of: counter) == ["hello"])
        #expect(try harness.state(Shop.log, of: forwarder) == ["counted 1"], "the reply reached the forwarder")
        let trail = harness.invocations.map { "\($0.caller?.description ?? "-") -> \($0.target): \($0.message.text)" }
        #expect(trail == [
            "- -> test/forwarder/f: hello",
            "test/forwarder/f -> test/counter/from-f: hello",
            "test/counter/from-f -> test/forwarder/f: counted 1",
        ])
    }

    @Test func delayedMessagesFireAtTheirTime() throws {
        let harness = FunctionTestHarness(Shop.application())
        harness.send(Message(text: "schedule"), to: Address(Shop.reminder, "r1"))
        #expect(harness.pendingTimerCount == 1)
        harness.advanceTime(by: .seconds(9))
        #expect(try harness.state(Shop.count, of: Address(Shop.counter, "r1")) == nil)
        harness.advanceTime(by: .seconds(1))
        #expect(try harness.state(Shop.log, of: Address(Shop.counter, "r1")) == ["ping"])
        #expect(harness.pendingTimerCount == 0)
        harness.advanceTime(by: .seconds(60))
        #expect(try harness.state(Shop.count, of: Address(Shop.counter, "r1")) == 1, "a delayed message fires once")
    }

    @Test func aDelayedMessageCanBeCancelled() throws {
        let harness = FunctionTestHarness(Shop.application())
        harness.send(Message(text: "schedule"), to: Address(Shop.reminder, "r2"))
        harness.send(Message(text: "cancel"), to: Address(Shop.reminder, "r2"))
        harness.advanceTime(by: .seconds(30))
        #expect(harness.pendingTimerCount == 0)
        #expect(try harness.state(Shop.count, of: Address(Shop.counter, "r2")) == nil)
    }

    @Test func reschedulingWithTheSameTokenReplacesThePendingMessage() throws {
        let harness = FunctionTestHarness(Shop.application())
        harness.send(Message(text: "schedule"), to: Address(Shop.reminder, "r3"))
        harness.advanceTime(by: .seconds(5))
        harness.send(Message(text: "schedule"), to: Address(Shop.reminder, "r3"))
        #expect(harness.pendingTimerCount == 1)
        harness.advanceTime(by: .seconds(30))
        #expect(try harness.state(Shop.count, of: Address(Shop.counter, "r3")) == 1)
    }

    @Test func aFailedInvocationLeavesNoStateChangeAndSendsNothing() throws {
        let harness = FunctionTestHarness(Shop.application())
        let account = Address(Shop.account, "acc")
        harness.send(Message(text: "100"), to: account)
        harness.send(Message(text: "-150"), to: account)
        #expect(try harness.state(Shop.balance, of: account) == 100)
        #expect(try harness.state(Shop.log, of: account) == nil, "the write before the throw is rolled back")
        #expect(harness.egress.isEmpty, "the egress before the throw is dropped")
        let letter = try #require(harness.deadLetters.first)
        #expect(letter.reason.code == "rejected", "no handler for Insufficient: the message is dead-lettered")
        #expect("\(letter.reason)".contains("Insufficient"))

        harness.send(Message(text: "-30"), to: account)
        #expect(try harness.state(Shop.balance, of: account) == 70)
        #expect(harness.egress.map(\.topic) == ["audit"])
    }

    @Test func anExceptionHandlerAnswersForAFailedInvocation() throws {
        let harness = FunctionTestHarness(Shop.application())
        harness.send(Message(text: "-5"), to: Address(Shop.account, "ghost"))
        #expect(harness.egress == [EgressRecord(topic: "responses", key: "ghost", value: "404")])
        #expect(harness.deadLetters.isEmpty)
        #expect(try harness.state(Shop.balance, of: Address(Shop.account, "ghost")) == nil)
    }

    @Test func unknownTypesAndUndeclaredStateAreRefusedClearly() throws {
        var app = Shop.application()
        app.bind("test/sloppy") { context, _ in try context.set(Shop.count, 1) }
        let harness = FunctionTestHarness(app)
        harness.send(Message(text: "x"), to: Address("test/nobody", "n"))
        harness.send(Message(text: "x"), to: Address("test/sloppy", "s"))
        #expect(harness.deadLetters.map(\.reason.code) == ["unknown-function-type", "rejected"])
        #expect("\(harness.deadLetters[1].reason)".contains("did not declare state \"count\""))
    }

    @Test func theGreeterCountsGreetingsPerName() throws {
        let harness = FunctionTestHarness(Greeter.application())
        for name in ["alice", "bob", "alice"] {
            harness.ingest(topic: Greeter.requestsTopic, key: name, value: #"{"name":"\#(name)"}"#)
        }
        let greetings = try harness.egress.map { try Message(bytes: $0.value ?? []).decode(Greeter.Greeting.self) }
        #expect(greetings.map(\.seen) == [1, 1, 2])
        #expect(greetings.last?.greeting == "Hello again alice!")
        #expect(harness.egress.map(\.keyText) == ["alice", "bob", "alice"])
        #expect(try harness.state(Greeter.seenCount, of: Address(Greeter.type, "alice")) == 2)
    }

    @Test func badIngressRecordsAreDeadLettered() {
        let harness = FunctionTestHarness(Greeter.application())
        harness.ingest(topic: Greeter.requestsTopic, key: "carol", value: "not json")
        harness.ingest(topic: Greeter.requestsTopic, key: nil, value: #"{"name":"x"}"#)
        harness.ingest(topic: Greeter.requestsTopic, key: "dave", value: #"{"nom":"dave"}"#)
        #expect(harness.deadLetters.map(\.reason.code) == ["undecodable", "missing-id", "rejected"])
        #expect(harness.deadLetters.map(\.origin).first == "greeter-requests/0/0")
        #expect(harness.egress.isEmpty)
    }
}
