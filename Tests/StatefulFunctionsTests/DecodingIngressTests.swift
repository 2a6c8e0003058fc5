import StatefulFunctions
import StatefulFunctionsTesting
import Synchronization
import Testing

/// An order that counts how often it is decoded.
private struct Order: Codable, Sendable, Equatable {
    static let decodings = Atomic<Int>(0)

    var id: String
    var amount: Int

    init(id: String, amount: Int) {
        self.id = id
        self.amount = amount
    }

    init(from decoder: any Decoder) throws {
        Self.decodings.add(1, ordering: .relaxed)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        amount = try container.decode(Int.self, forKey: .amount)
    }
}

/// `IngressBinding.decoding`: routing by the decoded value, and the function getting that value.
@Suite(.serialized) struct DecodingIngressTests {
    static let shop: TypeName = "test/shop"
    static let malformed: TypeName = "test/malformed"
    static let orders = ValueSpec<[String]>("orders")

    static func record(_ value: String) -> IngressRecord {
        IngressRecord(topic: "orders", key: nil, value: Array(value.utf8))
    }

    static let binding = IngressBinding.decoding(Order.self, topic: "orders", target: { order in
        order.id.isEmpty ? nil : Address(shop, order.id)
    }, undecodable: { record in
        (record.value ?? []).starts(with: Array(#"{"id""#.utf8)) ? Address(malformed, "x") : nil
    })

    @Test func aRecordGoesWhereItsDecodedValueSaysAndCarriesTheValue() throws {
        let (address, message) = try Self.binding.route(Self.record(#"{"id":"o1","amount":5}"#)).get()
        #expect(address == Address(Self.shop, "o1"))
        #expect(message == Message(text: #"{"id":"o1","amount":5}"#), "equal to the plain message of its bytes")
        let before = Order.decodings.load(ordering: .relaxed)
        #expect(try message.decode(Order.self) == Order(id: "o1", amount: 5))
        #expect(Order.decodings.load(ordering: .relaxed) == before, "the routed value, not decoded again")

        var changed = message
        changed.payload = Array(#"{"id":"o1","amount":6}"#.utf8)
        #expect(try changed.decode(Order.self).amount == 6, "new bytes are decoded")
        #expect(Order.decodings.load(ordering: .relaxed) == before + 1)
    }

    @Test func recordsThatAreNotOrdersGoToTheUndecodableRouteOrTheDeadLetters() throws {
        func reason(_ value: String) -> String? {
            switch Self.binding.route(Self.record(value)) {
            case .success: nil
            case .failure(let reason): reason.description
            }
        }
        #expect(try Self.binding.route(Self.record(#"{"id":"o2"}"#)).get().0 == Address(Self.malformed, "x"))
        #expect(reason(#"{"amount":5}"#) == "the record cannot be decoded: the value is not a Order")
        #expect(reason("not json") == "the record cannot be decoded: the value is not JSON")
        #expect(reason(#"{"id":"","amount":5}"#) == DeadLetterReason.missingID.description)
    }

    @Test func aFunctionDecodesTheIngressValueOnce() throws {
        var app = Application(name: "shop")
        app.bind(Self.shop, states: [Self.orders]) { context, message in
            let order = try message.decode(Order.self)
            try context.set(Self.orders, (try context.get(Self.orders) ?? []) + ["\(order.amount)"])
        }
        app.ingress(Self.binding)
        let harness = FunctionTestHarness(app)
        let before = Order.decodings.load(ordering: .relaxed)
        harness.ingest(topic: "orders", key: nil, value: #"{"id":"o3","amount":7}"#)
        harness.ingest(topic: "orders", key: nil, value: #"{"id":"o3","amount":8}"#)
        #expect(try harness.state(Self.orders, of: Address(Self.shop, "o3")) == ["7", "8"])
        #expect(Order.decodings.load(ordering: .relaxed) == before + 2, "once per record, to route it")
    }
}
