import StatefulFunctions
import Testing

@Suite struct MessageStatefunTypesTests {
    /// The bytes the StateFun Python SDK writes for `StringType`, `IntType` and `LongType`.
    @Test func builtInTypesHaveTheSDKsBytes() {
        #expect(Message(statefunString: "hi").payload == [0x0A, 0x02, 0x68, 0x69])
        #expect(Message(statefunString: "").payload.isEmpty)
        #expect(Message(statefunInt: -2).payload == [0x0D, 0xFE, 0xFF, 0xFF, 0xFF])
        #expect(Message(statefunLong: 300).payload == [0x09, 0x2C, 0x01, 0, 0, 0, 0, 0, 0])
        let long = String(repeating: "x", count: 200)
        #expect(Message(statefunString: long).statefunString == long, "a length over one varint byte")
        #expect(Message(statefunInt: -2).statefunInteger == -2)
        #expect(Message(statefunLong: .min).statefunInteger == .min)
        #expect(Message(bytes: [0x0A, 0x05, 0x68], typeName: Message.stringTypeName).statefunString == nil, "truncated")
        #expect(Message(text: "hi").statefunString == nil, "untyped")
    }
}
