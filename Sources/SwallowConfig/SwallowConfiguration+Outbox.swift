extension SwallowConfiguration {
    /// `outbox:` — Debezium's outbox event router (`io.debezium.transforms.outbox.EventRouter`), under its
    /// option names, for the tables in `tables` (and the logical decoding messages whose prefix is in
    /// `message_prefixes`, Debezium's `DecodeLogicalDecodingMessageContent` before the router). Other
    /// captured tables keep flowing as change events. See docs/outbox.md.
    public struct Outbox: Sendable, Equatable {
        /// `table.fields.additional.placement`: where an additional column goes.
        public enum Placement: String, Sendable, CaseIterable {
            case header, envelope, partition
        }

        /// One `column:placement[:alias]` entry of `table.fields.additional.placement`.
        public struct AdditionalField: Sendable, Equatable {
            public var column: String
            public var placement: Placement
            /// The header or envelope field name; the column's name unless given.
            public var alias: String

            public init(column: String, placement: Placement, alias: String? = nil) {
                self.column = column
                self.placement = placement
                self.alias = alias ?? column
            }
        }

        /// `table.op.invalid.behavior`: what an update of an outbox row does (it is never routed).
        public enum InvalidOperationBehavior: String, Sendable, CaseIterable {
            /// Skip it with a warning (Debezium's default).
            case warn
            /// Skip it with an error line.
            case error
            /// Stop.
            case fatal
        }

        /// `table.field.additional.missing`: an additional column the table does not have.
        public enum MissingFieldBehavior: String, Sendable, CaseIterable {
            case error, ignore
        }

        /// `table.json.payload.null.behavior`: null members of an expanded JSON payload.
        public enum JSONNullBehavior: String, Sendable, CaseIterable {
            /// Left out (Debezium's default).
            case ignore
            /// Kept, typed as optional bytes.
            case optionalBytes = "optional_bytes"
        }

        /// `tables`: the outbox tables (Swallow's own key; each must also be captured).
        public var tables: [TableName]
        /// `message_prefixes`: logical decoding message prefixes whose messages are outbox events (the
        /// table-less variant, `pg_logical_emit_message`); Swallow's own key.
        public var messagePrefixes: [String]
        public var routeByField: String
        public var routeTopicRegex: String
        public var routeTopicReplacement: String
        public var tombstoneOnEmptyPayload: Bool
        public var eventIDField: String
        public var eventKeyField: String
        public var payloadField: String
        public var timestampField: String?
        public var schemaVersionField: String?
        public var expandJSONPayload: Bool
        public var jsonNullBehavior: JSONNullBehavior
        public var additionalFields: [AdditionalField]
        public var missingFieldBehavior: MissingFieldBehavior
        public var invalidOperationBehavior: InvalidOperationBehavior

        public init(tables: [TableName] = [], messagePrefixes: [String] = [],
                    routeByField: String = "aggregatetype", routeTopicRegex: String = "(?<routedByValue>.*)",
                    routeTopicReplacement: String = "outbox.event.${routedByValue}", tombstoneOnEmptyPayload: Bool = false,
                    eventIDField: String = "id", eventKeyField: String = "aggregateid", payloadField: String = "payload",
                    timestampField: String? = nil, schemaVersionField: String? = nil, expandJSONPayload: Bool = false,
                    jsonNullBehavior: JSONNullBehavior = .ignore, additionalFields: [AdditionalField] = [],
                    missingFieldBehavior: MissingFieldBehavior = .error, invalidOperationBehavior: InvalidOperationBehavior = .warn) {
            self.tables = tables
            self.messagePrefixes = messagePrefixes
            self.routeByField = routeByField
            self.routeTopicRegex = routeTopicRegex
            self.routeTopicReplacement = routeTopicReplacement
            self.tombstoneOnEmptyPayload = tombstoneOnEmptyPayload
            self.eventIDField = eventIDField
            self.eventKeyField = eventKeyField
            self.payloadField = payloadField
            self.timestampField = timestampField
            self.schemaVersionField = schemaVersionField
            self.expandJSONPayload = expandJSONPayload
            self.jsonNullBehavior = jsonNullBehavior
            self.additionalFields = additionalFields
            self.missingFieldBehavior = missingFieldBehavior
            self.invalidOperationBehavior = invalidOperationBehavior
        }
    }
}
