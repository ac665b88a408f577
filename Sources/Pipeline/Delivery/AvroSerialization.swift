import Avro
import Foundation
import Logging
import SchemaRegistry
import SwallowConfig
import SwallowCore
import Synchronization

/// `events.format: avro`: gives every record the Avro form Confluent's AvroConverter writes — magic byte
/// 0, the schema's id in the registry, the Avro binary. Keys and row changes arrive as Avro already,
/// written by the encoder from the column values with five bytes of room for that header and a
/// reference to their shape (`OutgoingRecord.keyShape`, `valueShape`, one per table and schema
/// version): they get the id, cached by the shape's identity and topic. Every other record (transaction
/// metadata, heartbeats, logical messages, flattened values, dead letters) arrives as Connect JSON with
/// its schema, as the JSON path writes it with `envelope.schemas`, and is transcoded: each distinct
/// Connect schema is converted once (`AvroShape`). Each shape is registered (or looked up) once per
/// subject. A schema that changes mid-stream (a Relation message after DDL) is a new shape: its new
/// version is registered here, before the first record in the new shape is produced.
///
/// Nothing is produced for a record whose schema is not registered: a registry that refuses a schema
/// stops Swallow (non-retriable error naming the subject, the table and the registry's message); one that
/// cannot be reached, is slow or fails (5xx) is retried with backoff for `retry_timeout_ms`, and then the
/// stream restarts from the confirmed position (a retriable error). Either way nothing past the record is
/// confirmed, because it was never acknowledged.
final class AvroSerialization: Sendable {
    private let client: SchemaRegistryClient
    private let strategy: SubjectNameStrategy
    private let autoRegister: Bool
    private let retry: SchemaRegistryRetry
    private let logger: Logger
    /// Connect schema JSON -> its Avro form (or why it has none).
    private let shapes = Mutex<[SchemaBytes: Result<AvroShape, AvroError>]>([:])

    /// A Connect schema's JSON as a dictionary key, hashed in one pass over its bytes (an array of bytes
    /// hashes each byte on its own: a fifth of the Avro path's time for schemas of a few KB).
    private struct SchemaBytes: Hashable {
        let bytes: [UInt8]

        func hash(into hasher: inout Hasher) {
            bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
        }
    }
    /// (shape, topic, key or value) -> id, for the records the encoder wrote as Avro: the entries last
    /// found in the dictionary in a short list compared by identity (a lookup per key and per value of every
    /// record; hashing them was 1.4% of an Avro drain), every entry in the dictionary.
    private let shapeIDs = Mutex<ShapeIDs>(ShapeIDs())

    private struct ShapeIDs {
        var recent: [(ShapeOnTopic, Int32)] = []
        var all: [ShapeOnTopic: Int32] = [:]

        static let recentCount = 8

        mutating func id(of key: ShapeOnTopic) -> Int32? {
            for entry in recent where entry.0 == key { return entry.1 }
            guard let id = all[key] else { return nil }
            remember(key, id)
            return id
        }

        mutating func remember(_ key: ShapeOnTopic, _ id: Int32) {
            all[key] = id
            recent.removeAll { $0.0 == key }
            recent.insert((key, id), at: 0)
            if recent.count > Self.recentCount { recent.removeLast() }
        }
    }

    /// A shape by identity (held, so the identity is never reused) on a topic.
    private struct ShapeOnTopic: Hashable {
        let shape: AvroShape
        let topic: String
        let isKey: Bool

        /// Not the topic: a shape goes to one topic but for rare routings (equality still compares it).
        func hash(into hasher: inout Hasher) {
            hasher.combine(ObjectIdentifier(shape))
            hasher.combine(isKey)
        }

        /// The topic last: the same table's records carry the same String, compared without reading it.
        static func == (a: ShapeOnTopic, b: ShapeOnTopic) -> Bool {
            a.shape === b.shape && a.isKey == b.isKey && a.topic == b.topic
        }
    }
    /// (subject, schema string) -> id.
    private let ids = Mutex<[SubjectSchema: Int32]>([:])

    private struct SubjectSchema: Hashable {
        var subject: String
        var schema: String
    }

    init(settings: SwallowConfiguration.SchemaRegistry, logger: Logger) {
        client = SchemaRegistryClient(settings: SchemaRegistrySettings(
            urls: settings.urls, username: settings.username, password: settings.password,
            tls: .init(caFile: settings.tls.rootCertificateFile, certificateFile: settings.tls.certificateFile,
                       keyFile: settings.tls.keyFile, keyPassword: settings.tls.keyPassword),
            requestTimeoutMilliseconds: settings.requestTimeoutMilliseconds))
        strategy = SubjectNameStrategy(rawValue: settings.subjectNameStrategy.rawValue) ?? .topicName
        autoRegister = settings.autoRegister
        retry = SchemaRegistryRetry(budgetMilliseconds: settings.retryTimeoutMilliseconds)
        self.logger = logger
    }

    /// Replaces `record`'s key and value by their Avro form: a part the encoder wrote as Avro (its
    /// shape on the record) gets its header's schema id; a JSON part with its Connect schema is
    /// transcoded. `table` names the record's table in errors (asked only then); `shouldStop` ends a wait
    /// for the registry (false is then returned, and the record is to be abandoned).
    func serialize(_ record: inout OutgoingRecord, table: () -> String?, shouldStop: () -> Bool) throws(PipelineError) -> Bool {
        if var bytes = record.key {
            record.key = nil  // `bytes` is then the buffer's only owner: the header is written in place
            if record.keyShape != nil || !Self.isNullPayload(bytes) {
                guard try serialize(&bytes, shape: record.keyShape, topic: record.topic, isKey: true, table: table,
                                    shouldStop: shouldStop) else { return false }
                record.key = bytes
            }
        }
        if var bytes = record.value {
            record.value = nil
            if record.valueShape != nil || !Self.isNullPayload(bytes) {
                guard try serialize(&bytes, shape: record.valueShape, topic: record.topic, isKey: false, table: table,
                                    shouldStop: shouldStop) else { return false }
                record.value = bytes
            }
        }
        record.keyShape = nil
        record.valueShape = nil
        return true
    }

    /// A Connect record whose value is null (`{"schema":…,"payload":null}`: a flattened delete's, say):
    /// AvroConverter's serializer writes no bytes for a null value and registers nothing, so the Kafka
    /// value (or key) is null.
    static func isNullPayload(_ json: [UInt8]) -> Bool {
        json.withUnsafeBufferPointer { buffer in
            guard let (_, payload) = try? ConnectEnvelope.split(buffer) else { return false }
            return payload.count == 4 && buffer[payload.lowerBound] == UInt8(ascii: "n")
        }
    }

    private func serialize(_ bytes: inout [UInt8], shape: AvroShape?, topic: String, isKey: Bool, table: () -> String?,
                           shouldStop: () -> Bool) throws(PipelineError) -> Bool {
        guard let shape else {
            guard let avro = try convert(bytes, topic: topic, isKey: isKey, table: table, shouldStop: shouldStop) else { return false }
            bytes = avro
            return true
        }
        guard let id = try id(of: shape, topic: topic, isKey: isKey, table: table, shouldStop: shouldStop) else { return false }
        // Confluent's header: magic byte 0, the id big-endian (the encoder left five bytes for it).
        precondition(bytes.count >= 5, "an Avro record without room for its header")
        bytes[0] = 0
        bytes[1] = UInt8(truncatingIfNeeded: id >> 24)
        bytes[2] = UInt8(truncatingIfNeeded: id >> 16)
        bytes[3] = UInt8(truncatingIfNeeded: id >> 8)
        bytes[4] = UInt8(truncatingIfNeeded: id)
        return true
    }

    /// The id of `shape` on `topic`: cached by the shape's identity (a table's records all carry the one
    /// shape it planned), else its subject's registered id.
    private func id(of shape: AvroShape, topic: String, isKey: Bool, table: () -> String?,
                    shouldStop: () -> Bool) throws(PipelineError) -> Int32? {
        let key = ShapeOnTopic(shape: shape, topic: topic, isKey: isKey)
        if let id = shapeIDs.withLock({ $0.id(of: key) }) { return id }
        let part = isKey ? "key" : "value"
        guard let subject = strategy.subject(topic: topic, isKey: isKey, recordName: shape.recordName) else {
            throw PipelineError(code: .eventEncoding,
                                message: "the \(part) of an event of \(table().map { "table \($0)" } ?? "topic \(topic)") cannot be written as Avro: the schema is no record, so \(strategy.rawValue) names no subject for it",
                                isRetriable: false)
        }
        guard let id = try schemaID(subject: subject, shape: shape, part: part, table: table, shouldStop: shouldStop) else {
            return nil
        }
        shapeIDs.withLock { $0.remember(key, id) }
        return id
    }

    private func convert(_ json: [UInt8], topic: String, isKey: Bool, table: () -> String?,
                         shouldStop: () -> Bool) throws(PipelineError) -> [UInt8]? {
        let part = isKey ? "key" : "value"
        func encodingError(_ error: AvroError) -> PipelineError {
            PipelineError(code: .eventEncoding,
                          message: "the \(part) of an event of \(table().map { "table \($0)" } ?? "topic \(topic)") cannot be written as Avro: \(error)",
                          isRetriable: false, underlying: error)
        }
        let shape: AvroShape
        let payload: Range<Int>
        do throws(AvroError) {
            let (schemaRange, payloadRange) = try json.withUnsafeBufferPointer { (buffer) throws(AvroError) in
                try ConnectEnvelope.split(buffer)
            }
            shape = try self.shape(Array(json[schemaRange]))
            payload = payloadRange
        } catch {
            throw encodingError(error)
        }
        guard let subject = strategy.subject(topic: topic, isKey: isKey, recordName: shape.recordName) else {
            throw encodingError(AvroError(code: .unsupportedSchema,
                                          message: "the schema is no record, so \(strategy.rawValue) names no subject for it"))
        }
        guard let id = try schemaID(subject: subject, shape: shape, part: part, table: table, shouldStop: shouldStop) else {
            return nil
        }
        var out = ConfluentWireFormat.header(schemaID: id, bodyCapacity: payload.count)
        do throws(AvroError) {
            try json.withUnsafeBufferPointer { (buffer) throws(AvroError) in
                try shape.encode(payload: UnsafeBufferPointer(rebasing: buffer[payload]), into: &out)
            }
        } catch {
            throw encodingError(error)
        }
        return out
    }

    /// The shape of a Connect schema, made once.
    private func shape(_ connectSchema: [UInt8]) throws(AvroError) -> AvroShape {
        let key = SchemaBytes(bytes: connectSchema)
        if let known = shapes.withLock({ $0[key] }) { return try known.get() }
        let made: Result<AvroShape, AvroError>
        do throws(AvroError) {
            made = .success(try AvroShape(connectSchemaJSON: connectSchema))
        } catch {
            made = .failure(error)
        }
        shapes.withLock { $0[key] = made }
        return try made.get()
    }

    /// The registry's id of `shape` under `subject`: cached, else registered (or looked up), retrying an
    /// unreachable or failing registry with backoff. nil when `shouldStop` ended the wait.
    private func schemaID(subject: String, shape: AvroShape, part: String, table: () -> String?,
                          shouldStop: () -> Bool) throws(PipelineError) -> Int32? {
        let key = SubjectSchema(subject: subject, schema: shape.schemaString)
        if let id = ids.withLock({ $0[key] }) { return id }
        let start = ContinuousClock.now
        var attempt = 0
        while true {
            attempt += 1
            do {
                let id = autoRegister ? try client.register(subject: subject, schema: shape.schemaString)
                                      : try client.lookup(subject: subject, schema: shape.schemaString)
                ids.withLock { $0[key] = id }
                logger.info("schema \(autoRegister ? "registered" : "found") in the Schema Registry",
                            metadata: ["subject": "\(subject)", "id": "\(id)", "table": "\(table() ?? "-")"])
                return id
            } catch where error.isRetriable {
                let elapsed = Int((ContinuousClock.now - start) / .milliseconds(1))
                guard let delay = retry.delay(afterAttempt: attempt, elapsedMilliseconds: elapsed) else {
                    throw PipelineError(
                        code: .schemaRegistry,
                        message: "the Schema Registry did not take the \(part) schema of \(table() ?? "Swallow's records") (subject \(subject)) within schema_registry.retry_timeout_ms (\(retry.budgetMilliseconds) ms): \(error). Nothing past the confirmed position is confirmed; the stream restarts from it",
                        isRetriable: true, underlying: error)
                }
                if attempt == 1 || attempt % 10 == 0 {
                    logger.warning("the Schema Registry cannot be reached or fails; retrying with backoff, nothing is produced meanwhile",
                                   metadata: ["subject": "\(subject)", "attempt": "\(attempt)", "error": "\(error)"])
                }
                let deadline = ContinuousClock.now + .milliseconds(delay)
                while ContinuousClock.now < deadline {
                    if shouldStop() { return nil }
                    Thread.sleep(forTimeInterval: min(0.1, max(0, Double((deadline - ContinuousClock.now) / .milliseconds(1)) / 1000)))
                }
            } catch {
                throw Self.refusal(error, part: part, table: table())
            }
        }
    }

    static func refusal(_ error: SchemaRegistryError, part: String, table: String?) -> PipelineError {
        let what = "the \(part) schema of \(table.map { "table \($0)" } ?? "Swallow's records") under subject \(error.subject)"
        let fix: String
        switch error.code {
        case .incompatible:
            fix = "make the table change compatible with the subject's compatibility level (e.g. add columns as nullable), or change the subject's compatibility (PUT /config/\(error.subject)), then restart"
        case .notFound:
            fix = "register the schema first, or set schema_registry.auto_register: true"
        case .unauthorized:
            fix = "check schema_registry.username and password (and the user's permissions)"
        case .tlsConfiguration:
            fix = "check schema_registry.sslrootcert, sslcert, sslkey and sslpassword"
        default:
            fix = "fix the cause and restart"
        }
        return PipelineError(
            code: .schemaRegistry,
            message: "the Schema Registry refused \(what): \(error). Nothing past the confirmed position is confirmed. Fix: \(fix)",
            isRetriable: false, underlying: error)
    }
}
