import StatefulFunctions
import StatefulFunctionsTesting
import Testing
import YCSB

/// The YCSB application's Kafka contract, run in the test harness.
@Suite struct YCSBTests {
    let harness = FunctionTestHarness(YCSB.application())

    func send(_ json: String, key: String = "k") {
        harness.ingest(topic: YCSB.requestsTopic, key: key, value: json)
    }

    func send(_ request: YCSB.Request) throws {
        harness.ingest(topic: YCSB.requestsTopic, key: request.recordKey, value: String(decoding: try Message(json: request).payload, as: UTF8.self))
    }

    var responses: [String: YCSB.Response] {
        get throws {
            let all = try harness.egress.map { try Message(bytes: $0.value ?? []).decode(YCSB.Response.self) }
            #expect(Set(all.map(\.request_id)).count == all.count, "one response per request")
            #expect(harness.egress.allSatisfy { $0.topic == YCSB.responsesTopic && $0.key.map { String(decoding: $0, as: UTF8.self) } != nil })
            return Dictionary(uniqueKeysWithValues: all.map { ($0.request_id, $0) })
        }
    }

    func balanceOf(_ key: String) throws -> Int? { try harness.state(YCSB.balance, of: Address(YCSB.account, key)) }

    @Test func insertReadAndUpdate() throws {
        try send(YCSB.Request(request_id: "i1", op: "insert", key: "a", fields: ["field0": "x", "field1": "y"]))
        try send(YCSB.Request(request_id: "u1", op: "update", key: "a", fields: ["field1": "z"]))
        try send(YCSB.Request(request_id: "r1", op: "read", key: "a"))
        try send(YCSB.Request(request_id: "r2", op: "read", key: "missing"))
        try send(YCSB.Request(request_id: "u2", op: "update", key: "missing", fields: ["field0": "x"]))
        let answers = try responses
        #expect(answers["i1"] == YCSB.Response(request_id: "i1", op: "insert", status: 200))
        #expect(answers["u1"]?.status == 200)
        #expect(answers["r1"] == YCSB.Response(request_id: "r1", op: "read", status: 200,
                                               record: YCSB.Record(balance: 10_000, fields: ["field0": "x", "field1": "z"])))
        #expect(answers["r2"]?.status == 404 && answers["r2"]?.record == nil)
        #expect(answers["u2"]?.status == 404)
    }

    @Test(arguments: ["2pc", "saga"])
    func transfersMoveMoneyOrAreRefused(protocol: String) throws {
        try send(YCSB.Request(request_id: "i1", op: "insert", key: "a", balance: 100))
        try send(YCSB.Request(request_id: "i2", op: "insert", key: "b", balance: 0))
        try send(YCSB.Request(request_id: "t1", op: "transfer", from: "a", to: "b", amount: 60, protocol: `protocol`))
        try send(YCSB.Request(request_id: "t2", op: "transfer", from: "a", to: "b", amount: 60, protocol: `protocol`))
        try send(YCSB.Request(request_id: "t3", op: "transfer", from: "a", to: "nobody", amount: 1, protocol: `protocol`))
        let answers = try responses
        #expect(answers["t1"] == YCSB.Response(request_id: "t1", op: "transfer", status: 200))
        #expect(answers["t2"]?.status == 422, "balances never go negative")
        #expect(answers["t3"]?.status == 404)
        #expect(try balanceOf("a") == 40)
        #expect(try balanceOf("b") == 60)
    }

    @Test func malformedRequestsWithAnIdGet400AndOthersGoToTheDeadLetters() throws {
        send(#"{"request_id":"m1","op":"delete","key":"a"}"#)
        send(#"{"request_id":"m2","op":"read"}"#)
        send(#"{"request_id":"m3","op":"transfer","from":"a","to":"a","amount":5}"#)
        send(#"{"request_id":"m4","op":"transfer","from":"a","to":"b","amount":-5}"#)
        send(#"{"request_id":"m5","op":"transfer","from":"a","to":"b","amount":5,"protocol":"3pc"}"#)
        send(#"{"request_id":"m6","op":"insert","key":"a","balance":-1}"#)
        send(#"{"request_id":"m7","op":"transfer","from":"a","to":"b","amount":"five"}"#)
        send(#"{"request_id":"m8","op":5}"#)
        send(#"{"request_id":7,"op":"read","key":"a"}"#)
        send("not json at all")
        send(#"{"op":"read","key":"a"}"#)
        send(#"{"request_id":"","op":"read","key":"a"}"#)
        let answers = try responses
        #expect(Set(answers.keys) == ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8"])
        #expect(answers.values.allSatisfy { $0.status == 400 && $0.reason != nil })
        #expect(answers["m1"]?.reason == "unknown op delete")
        #expect(answers["m7"]?.reason == "malformed request: amount must be Int")
        #expect(answers["m8"]?.reason == "malformed request: op must be a string")
        #expect(harness.deadLetters.count == 4, "no request id: nobody to answer")
        #expect(try balanceOf("a") == nil, "nothing malformed changed state")
    }

    @Test func withoutTransactionsTransfersAreAnswered400AndTheRestWorks() throws {
        let harness = FunctionTestHarness(YCSB.application(transactions: false))
        for request in [YCSB.Request(request_id: "i1", op: "insert", key: "a"), YCSB.Request(request_id: "i2", op: "insert", key: "b"),
                        YCSB.Request(request_id: "t1", op: "transfer", from: "a", to: "b", amount: 5)] {
            harness.ingest(topic: YCSB.requestsTopic, key: request.recordKey, value: String(decoding: try Message(json: request).payload, as: UTF8.self))
        }
        let answers = try harness.egress.map { try Message(bytes: $0.value ?? []).decode(YCSB.Response.self) }
        #expect(answers.map(\.status) == [200, 200, 400])
        #expect(answers.last?.reason == "transactions are disabled")
        #expect(try harness.state(YCSB.balance, of: Address(YCSB.account, "a")) == 10_000)
    }

    @Test(arguments: ["2pc", "saga"])
    func aDepositThatWouldOverflowIsRefusedNotACrash(protocol: String) throws {
        try send(YCSB.Request(request_id: "i1", op: "insert", key: "rich", balance: Int.max - 5))
        try send(YCSB.Request(request_id: "i2", op: "insert", key: "b"))
        try send(YCSB.Request(request_id: "t1", op: "transfer", from: "b", to: "rich", amount: 10, protocol: `protocol`))
        let answers = try responses
        #expect(answers["t1"]?.status == 400 && answers["t1"]?.reason == "400 amount too large", "\(String(describing: answers["t1"]))")
        #expect(try balanceOf("rich") == Int.max - 5)
        #expect(try balanceOf("b") == 10_000, "the withdrawal is rolled back or compensated")
    }
}
