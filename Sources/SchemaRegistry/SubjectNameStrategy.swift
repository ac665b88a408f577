/// Confluent's subject name strategies (`key.subject.name.strategy`, `value.subject.name.strategy`):
/// under which subject a record's key or value schema is registered.
public enum SubjectNameStrategy: String, Sendable, CaseIterable {
    /// TopicNameStrategy, the default: `<topic>-key`, `<topic>-value`.
    case topicName = "topic_name"
    /// RecordNameStrategy: the record's full name (namespace.name), whatever the topic.
    case recordName = "record_name"
    /// TopicRecordNameStrategy: `<topic>-<record full name>`.
    case topicRecordName = "topic_record_name"

    /// The subject of a key (`isKey`) or value schema whose top-level record is `recordName` (nil for a
    /// schema that is no record: RecordNameStrategy then has no subject, as Confluent's refuses it).
    public func subject(topic: String, isKey: Bool, recordName: String?) -> String? {
        switch self {
        case .topicName: return topic + (isKey ? "-key" : "-value")
        case .recordName: return recordName
        case .topicRecordName: return recordName.map { "\(topic)-\($0)" }
        }
    }
}
