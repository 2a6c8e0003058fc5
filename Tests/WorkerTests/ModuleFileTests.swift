import StatefulFunctions
import Testing
import Worker

@Suite struct ModuleFileTests {
    private static let valid = """
        kind: io.statefun.endpoints.v2/http
        spec:
          functions: shop/*
          urlPathTemplate: http://functions:8000/{function.name}
          maxNumBatchRequests: 50
          transport:
            type: io.statefun.transports.v1/async
            call: 30s
        ---
        kind: io.statefun.kafka.v1/ingress
        spec:
          id: shop/orders
          address: kafka:9092
          consumerGroupId: shop
          topics:
            - topic: orders
              valueType: shop/Order
              targets:
                - shop/cart
        ---
        kind: io.statefun.kafka.v1/egress
        spec:
          id: shop/out
          address: other:9092
        """

    @Test func aModuleFileBecomesAnApplication() throws {
        let module = try ModuleFile(yaml: Self.valid, source: "shop.yaml", name: "shop")
        let endpoint = try #require(module.application.binding(for: "shop/cart")?.remote)
        #expect(endpoint.url(for: "shop/cart") == "http://functions:8000/cart")
        #expect(endpoint.maxBatchSize == 50 && endpoint.callTimeoutMilliseconds == 30_000)
        #expect(module.application.binding(for: "other/cart") == nil)
        #expect(module.bootstrapServers == "kafka:9092" && module.consumerGroupID == "shop")
        let ingress = try #require(module.application.ingresses.first)
        #expect(ingress.topic == "orders" && ingress.valueTypeName == "shop/Order")
        guard case .success(let (target, message)) = ingress.route(IngressRecord(topic: "orders", key: "c1", value: "{}")) else {
            Issue.record("the record is routed")
            return
        }
        #expect(target == Address("shop/cart", "c1") && message.typeName == "shop/Order")
    }

    @Test(arguments: [
        ("kind: io.statefun.endpoints.v2/http\nspec:\n  urlPathTemplate: http://f", "document 1 (io.statefun.endpoints.v2/http): spec.functions: missing"),
        ("kind: io.statefun.endpoints.v2/http\nspec:\n  functions: a/*\n  urlPathTemplate: ftp://f", "spec.urlPathTemplate: \"ftp://f\" is not an http or https URL"),
        ("kind: io.statefun.endpoints.v2/http\nspec:\n  functions: a/b\n  urlPathTemplate: http://f\n  transport:\n    call: soon",
         "spec.transport.call: \"soon\" is not a duration"),
        ("kind: nope/v1\nspec: {}", "document 1 (nope/v1): kind: \"nope/v1\" is not one of"),
        ("kind: io.statefun.kafka.v1/egress\nspec:\n  id: a/out\n---\nkind: io.statefun.kafka.v1/ingress\nspec:\n  id: a/b\n  topics:\n    - topic: t\n      targets: [a/c]",
         "document 2 (io.statefun.kafka.v1/ingress): spec.topics[0].valueType: missing"),
        ("kind: io.statefun.kafka.v1/ingress\nspec:\n  id: a/b\n  topics:\n    - topic: t\n      valueType: a/v\n      targets: [a/c, a/d]",
         "spec.topics[0].targets: must list exactly one function type, lists 2"),
        ("kind: io.statefun.kafka.v1/ingress\nspec:\n  id: a/b\n  startupPosition:\n    type: latest\n  topics: []",
         "spec.startupPosition.type: \"latest\" is not supported"),
        ("kind: [", "m.yaml: not YAML"),
    ])
    func badModuleFilesNameTheDocumentAndTheField(yaml: String, expected: String) {
        do {
            _ = try ModuleFile(yaml: yaml, source: "m.yaml")
            Issue.record("accepted: \(yaml)")
        } catch {
            #expect(error.description.contains(expected), "\(error.description)")
        }
    }
}
