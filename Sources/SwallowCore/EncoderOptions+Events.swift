import ChangeEvent
import SwallowConfig

extension EncoderOptions {
    /// The encoder options the `events` section asks for; schema names start with the topic prefix. With
    /// `events.format: avro` keys and row changes are written as Avro by the
    /// encoder (`TableSchema.avro`); every other record carries its Connect schema (as with
    /// `envelope.schemas`), and the delivery path turns schema and payload into Avro (`AvroSerialization`).
    public init(events: SwallowConfiguration.Events, topicPrefix: String) {
        self.init(toastPlaceholder: events.unavailableValuePlaceholder, decimalHandling: events.decimalHandling,
                  timePrecision: events.timePrecision, binaryHandling: events.binaryHandling,
                  intervalHandling: events.intervalHandling, hstoreHandling: events.hstoreHandling,
                  unknownTypeHandling: events.unknownTypeHandling, includeSchemas: events.includeSchemas || events.format == .avro,
                  schemaNamePrefix: topicPrefix)
        fieldNameAdjustment = events.fieldNameAdjustment
        avroRecords = events.format == .avro
    }
}
