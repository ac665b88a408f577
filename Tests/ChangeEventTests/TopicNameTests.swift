import ChangeEvent
import Testing

/// `TopicName` against Debezium's `AbstractTopicNamingStrategy.sanitizedTopicName` rules.
@Suite struct TopicNameTests {
    @Test func validNamesAreLeftAlone() {
        let topic = TopicName.ofTable(schema: "public", table: "order_items-2024.v1", prefix: "app")
        #expect(topic == ("app.public.order_items-2024.v1", false))
    }

    @Test func eachInvalidCharacterBecomesAnUnderscore() {
        #expect(TopicName.ofTable(schema: "Odd", table: "Order Lines", prefix: "app") == ("app.Odd.Order_Lines", true))
        #expect(TopicName.sanitized("app.public.weird \"quoted\" name").name == "app.public.weird__quoted__name")
        #expect(TopicName.sanitized("app.public.Zürich").name == "app.public.Z_rich")
        #expect(TopicName.sanitized("app.public.a$b/c:d").name == "app.public.a_b_c_d")
    }

    @Test func aCharacterOutsideTheBasicPlaneIsTwoUTF16UnitsAndTwoUnderscores() {
        // Debezium walks Java chars (UTF-16 code units): 😀 is a surrogate pair.
        #expect(TopicName.sanitized("app.public.t😀").name == "app.public.t__")
        #expect(TopicName.sanitized("app.public.流").name == "app.public._")
    }

    @Test func longNamesAreCutAtKafkasLimit() {
        let long = "app.public." + String(repeating: "x", count: 300)
        let topic = TopicName.sanitized(long)
        #expect(topic.changed)
        #expect(topic.name.count == 249)
        #expect(long.hasPrefix(topic.name))
        let exact = String(repeating: "y", count: 249)
        #expect(TopicName.sanitized(exact) == (exact, false))
    }

    @Test func dotAndDotDotAreReserved() {
        #expect(TopicName.sanitized(".") == ("_", true))
        #expect(TopicName.sanitized("..") == ("__", true))
        #expect(TopicName.sanitized("...") == ("...", false))
    }

    @Test func everyResultIsAValidKafkaTopicName() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("aZ09._- \"é流😀/\u{0}")
        for _ in 0..<2_000 {
            let length = Int.random(in: 1...300, using: &generator)
            let name = String((0..<length).map { _ in alphabet.randomElement(using: &generator)! })
            let topic = TopicName.sanitized(name).name
            #expect(!topic.isEmpty && topic.utf8.count <= 249 && topic != "." && topic != "..")
            #expect(topic.utf8.allSatisfy { $0 < 0x80 && ($0 == 0x2E || $0 == 0x5F || $0 == 0x2D || ($0 >= 0x30 && $0 <= 0x39)
                || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A)) }, "\(topic)")
        }
    }
}
