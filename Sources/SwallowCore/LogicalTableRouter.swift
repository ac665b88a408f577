import ChangeEvent
import SwallowConfig

/// `topic_routing`: Debezium's `io.debezium.transforms.ByLogicalTableRouter`, decided once per table.
///
/// A table whose topic `topic.regex` matches as a whole goes to `replaceFirst(topic.replacement)` (an
/// empty result leaves it where it was, as Debezium does); its key gets the field `key.field.name`
/// (with `key.enforce.uniqueness`, the default) whose value is the table's own topic, or what
/// `key.field.regex`/`key.field.replacement` make of it (the topic itself when that regex does not match);
/// its key and value schemas are named after the new topic (`TableRouting`). Everything else of the
/// record stays: `source` still names the physical table.
///
/// The translator asks once per Relation message, so the regexes run per table, never per record.
public struct LogicalTableRouter: Sendable {
    private let topicRegex: RoutingRegex
    private let topicReplacement: JavaReplacement
    private let keyField: (regex: RoutingRegex, replacement: JavaReplacement)?
    private let keyFieldName: String?
    private let adjustment: SwallowConfiguration.TopicRouting.SchemaNameAdjustmentMode

    /// Where a routed table's records go and how they change.
    public struct Route: Sendable, Equatable {
        public var topic: String
        public var routing: TableRouting
    }

    /// The router `configuration` describes; nil when a regex or replacement does not compile, which the
    /// configuration reader has already refused with the same types (`RoutingRegex`, `JavaReplacement`).
    public init?(_ configuration: SwallowConfiguration.TopicRouting) {
        guard let regex = RoutingRegex(configuration.topicRegex),
              let replacement = try? JavaReplacement(configuration.topicReplacement, groupCount: regex.groupCount,
                                                     groupNames: regex.groupNames) else { return nil }
        topicRegex = regex
        topicReplacement = replacement
        if let pattern = configuration.keyFieldRegex, let text = configuration.keyFieldReplacement {
            guard let regex = RoutingRegex(pattern),
                  let replacement = try? JavaReplacement(text, groupCount: regex.groupCount, groupNames: regex.groupNames) else {
                return nil
            }
            keyField = (regex, replacement)
        } else {
            keyField = nil
        }
        keyFieldName = configuration.keyEnforceUniqueness ? configuration.keyFieldName : nil
        adjustment = configuration.schemaNameAdjustmentMode
    }

    /// The route of the records of the table whose own topic is `topic`; nil: they stay on it.
    public func route(topic: String) -> Route? {
        guard let newTopic = topicRegex.replacingIfWholeMatch(topic, with: topicReplacement), !newTopic.isEmpty else {
            return nil
        }
        let identifier = keyField.flatMap { $0.regex.replacingIfWholeMatch(topic, with: $0.replacement) } ?? topic
        return Route(topic: newTopic, routing: TableRouting(
            keySchemaName: adjusted(newTopic + ".Key"), valueSchemaName: adjusted(newTopic + ".Value"),
            envelopeSchemaName: adjusted(newTopic + ".Envelope"),
            keyField: keyFieldName.map { TableRouting.KeyField(name: $0, value: identifier) }))
    }

    /// Whether records on `topic` would be routed: for the topics that are not a table's (transaction
    /// metadata, logical messages, heartbeats), which Swallow does not route.
    public func matches(topic: String) -> Bool { route(topic: topic) != nil }

    private func adjusted(_ name: String) -> String {
        switch adjustment {
        case .none: name
        case .avro: Self.avroName(name)
        }
    }

    /// Debezium's `SchemaNameAdjuster` in `avro` mode (`validFullname` with the underscore replacement),
    /// per UTF-16 unit: the first must be `_` or an ASCII letter, the others may also be digits or `.`;
    /// each other unit becomes `_`, and a digit in first place keeps itself after the `_` (`1x` gives `_1x`).
    static func avroName(_ name: String) -> String {
        func isFirst(_ unit: UInt16) -> Bool {
            unit == 0x5F || (0x41...0x5A).contains(unit) || (0x61...0x7A).contains(unit)
        }
        func isDigit(_ unit: UInt16) -> Bool { (0x30...0x39).contains(unit) }
        var units: [UInt16] = []
        for (index, unit) in name.utf16.enumerated() {
            if index == 0 {
                if isFirst(unit) { units.append(unit) } else {
                    units.append(0x5F)
                    if isDigit(unit) { units.append(unit) }
                }
            } else {
                units.append(isFirst(unit) || isDigit(unit) || unit == 0x2E ? unit : 0x5F)
            }
        }
        return String(decoding: units, as: UTF16.self)
    }
}
