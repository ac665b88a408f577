import ChangeEvent
import SwallowConfig

extension EncoderOptions {
    /// The encoder options the `events` section asks for; schema names start with the topic prefix. With
    /// `events.format: avro` records carry their Connect schemas (as with `envelope.schemas`): the delivery
    /// path turns schema and payload into Avro (`AvroSerialization`).
    public init(events: SwallowConfiguration.Events, topicPrefix: String) {
        self.init(toastPlaceholder: events.unavailableValuePlaceholder, decimalHandling: events.decimalHandling,
                  timePrecision: events.timePrecision, binaryHandling: events.binaryHandling,
                  intervalHandling: events.intervalHandling, hstoreHandling: events.hstoreHandling,
                  unknownTypeHandling: events.unknownTypeHandling, includeSchemas: events.includeSchemas || events.format == .avro,
                  schemaNamePrefix: topicPrefix)
        fieldNameAdjustment = events.fieldNameAdjustment
    }
}
