import Foundation
import Yams

/// The `topic_creation` section: Kafka Connect's `topic.creation.*` options less the prefix. Its keys are
/// open-ended (`<group>.<topic config>`), so they are checked here rather than against a fixed list:
/// `enable`, `groups`, and `<group>.<key>` for `default` and each listed group, where `<key>` is
/// `include`, `exclude` (not for `default`), `partitions`, `replication.factor` or a Kafka topic config.
extension ConfigurationReader {
    typealias TopicCreation = SwallowConfiguration.TopicCreation

    func readTopicCreation(_ top: Section) throws(ConfigurationError) -> TopicCreation? {
        guard let node = top["topic_creation"], !Self.isNull(node) else { return nil }
        let path = top.path("topic_creation")
        let entries = try mapping(node, path: path, expected:
            "a mapping of Kafka Connect's topic.creation.* options without the prefix, e.g. `default.partitions: 3`")
        var values: [String: Node] = [:]
        for entry in entries { values[entry.key] = entry.value }
        let section = Section(prefix: path, values: values)

        let enabled = try boolean(section, "enable", default: true)
        let groupNames = try topicCreationList(section, "groups", what: "group names")
        for (index, name) in groupNames.enumerated() {
            let groupsPath = section.path("groups")
            if name == TopicCreation.defaultGroupName {
                throw ConfigurationError(code: .invalidValue, path: groupsPath,
                                         message: "`default` is always there and takes every topic no other group takes; list only the other groups")
            }
            if name.isEmpty || name.contains(".") {
                throw ConfigurationError(code: .invalidValue, path: groupsPath,
                                         message: "group names are non-empty and without dots (they prefix keys such as `\(name.isEmpty ? "audit" : name).partitions`), got \(Echo.quoted(name))")
            }
            if groupNames[..<index].contains(name) {
                throw ConfigurationError(code: .invalidValue, path: groupsPath,
                                         message: "group \(Echo.quoted(name)) is listed twice (Connect: duplicate alias)")
            }
        }
        let known = [TopicCreation.defaultGroupName] + groupNames

        // Every key belongs to `default` or a listed group, before any value is read.
        var keysByGroup: [String: [Entry]] = [:]
        for entry in entries where entry.key != "enable" && entry.key != "groups" {
            guard let dot = entry.key.firstIndex(of: "."), known.contains(String(entry.key[..<dot])) else {
                let prefix = entry.key.split(separator: ".", maxSplits: 1).first.map(String.init) ?? entry.key
                let hint = Self.suggestion(for: prefix, among: known).map { " (did you mean `\($0)`?)" }
                    ?? (entry.key.contains(".") ? " (list the group in topic_creation.groups)" : "")
                throw ConfigurationError(code: .unknownKey, path: entry.path,
                                         message: "unknown key\(hint); allowed keys: enable, groups, and <group>.<setting> for the groups \(Self.list(known)), where <setting> is include, exclude, partitions, replication.factor or a Kafka topic config")
            }
            let setting = String(entry.key[entry.key.index(after: dot)...])
            guard !setting.isEmpty else {
                throw ConfigurationError(code: .unknownKey, path: entry.path, message: "unknown key; expected <group>.<setting>, e.g. `default.partitions`")
            }
            keysByGroup[String(entry.key[..<dot]), default: []].append(entry)
        }

        let defaultPrefix = TopicCreation.defaultGroupName + "."
        for key in ["include", "exclude"] where values[defaultPrefix + key] != nil {
            throw ConfigurationError(code: .invalidValue, path: section.path(defaultPrefix + key),
                                     message: "the default group takes every topic no other group takes (Connect ignores default.\(key)); put the topics in a group of their own: `groups: mine`, `mine.\(key): ...`")
        }
        // Required as in Connect, where they matter: with `enable: false` nothing is created (Connect then
        // ignores every topic.creation.* option).
        for key in ["partitions", "replication.factor"] where enabled && values[defaultPrefix + key] == nil {
            throw ConfigurationError(code: .missingKey, path: section.path(defaultPrefix + key),
                                     message: "missing required key (as in Kafka Connect, the default group needs partitions and replication factor); e.g. `\(defaultPrefix + key): \(key == "partitions" ? "3" : "3")`, or -1 for the broker's default")
        }
        let defaultPartitions = try topicCreationCount(section, defaultPrefix + "partitions", upperBound: Int(Int32.max), default: -1)
        let defaultReplication = try topicCreationCount(section, defaultPrefix + "replication.factor", upperBound: Int(Int16.max), default: -1)
        let defaultGroup = TopicCreation.Group(
            name: TopicCreation.defaultGroupName, include: [".*"], partitions: defaultPartitions,
            replicationFactor: defaultReplication,
            configs: try topicConfigs(keysByGroup[TopicCreation.defaultGroupName] ?? [], group: TopicCreation.defaultGroupName))

        var groups: [TopicCreation.Group] = []
        for name in groupNames {
            let prefix = name + "."
            let include = try topicCreationList(section, prefix + "include", what: "regular expressions", regexes: true)
            guard !include.isEmpty else {
                throw ConfigurationError(code: .missingKey, path: section.path(prefix + "include"),
                                         message: "group \(name) takes no topic without include: a list of regular expressions over whole topic names, e.g. `\(prefix)include: 'app\\.public\\.audit_.*'`")
            }
            let exclude = try topicCreationList(section, prefix + "exclude", what: "regular expressions", regexes: true)
            groups.append(TopicCreation.Group(
                name: name, include: include, exclude: exclude,
                partitions: try topicCreationCount(section, prefix + "partitions", upperBound: Int(Int32.max), default: defaultPartitions),
                replicationFactor: try topicCreationCount(section, prefix + "replication.factor", upperBound: Int(Int16.max), default: defaultReplication),
                configs: try topicConfigs(keysByGroup[name] ?? [], group: name)))
        }
        return TopicCreation(enabled: enabled, defaultGroup: defaultGroup, groups: groups)
    }

    /// A partition count or replication factor: -1 (the broker's default) or 1...upperBound, as Connect's
    /// `minusOneOrPositive`.
    private func topicCreationCount(_ section: Section, _ key: String, upperBound: Int,
                                    default defaultValue: Int) throws(ConfigurationError) -> Int {
        let value = try integer(section, key, range: -1 ... upperBound, default: defaultValue)
        if value == 0 {
            throw ConfigurationError(code: .invalidValue, path: section.path(key),
                                     message: "expected -1 (the broker's default) or an integer 1..\(upperBound), got 0")
        }
        return value
    }

    /// A Connect LIST: a YAML sequence of strings, or one comma-separated string. Empty when absent.
    private func topicCreationList(_ section: Section, _ key: String, what: String,
                                   regexes: Bool = false) throws(ConfigurationError) -> [String] {
        let path = section.path(key)
        let expected = "a list of \(what) (a YAML sequence, or one comma-separated string)"
        guard let node = section[key], !Self.isNull(node) else { return [] }
        var items: [String] = []
        if case .sequence(let sequence) = node {
            for (index, item) in sequence.enumerated() {
                guard let value = try scalar(item, path: "\(path)[\(index)]", expected: what) else {
                    throw ConfigurationError(code: .invalidValue, path: "\(path)[\(index)]", message: "expected one of \(what), got null")
                }
                items.append(value.text.trimmingCharacters(in: .whitespaces))
            }
        } else {
            guard let value = try scalar(node, path: path, expected: expected) else { return [] }
            items = value.text.split(separator: ",", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
        }
        items = items.filter { !$0.isEmpty }
        if regexes {
            for pattern in items { try Self.requireRegex(pattern, path: path, secret: false) }
        }
        return items
    }

    /// The topic configs among a group's keys: known Kafka topic config names (or a vendor's prefix),
    /// with scalar values.
    private func topicConfigs(_ entries: [Entry], group: String) throws(ConfigurationError) -> [String: String] {
        var configs: [String: String] = [:]
        for entry in entries {
            let name = String(entry.key.dropFirst(group.count + 1))
            if TopicCreation.groupKeys.contains(name) { continue }
            guard TopicCreation.topicConfigNames.contains(name)
                    || TopicCreation.vendorConfigPrefixes.contains(where: { name.hasPrefix($0) }) else {
                let suggestion = Self.suggestion(for: name, among: TopicCreation.groupKeys + TopicCreation.topicConfigNames.sorted())
                let hint = suggestion.map { " (did you mean `\(group).\($0)`?)" } ?? ""
                throw ConfigurationError(code: .unknownKey, path: entry.path,
                                         message: "unknown key\(hint): `\(name)` is neither include, exclude, partitions, replication.factor nor a Kafka topic config (cleanup.policy, retention.ms, compression.type, ...)")
            }
            guard let value = try scalar(entry.value, path: entry.path, expected: "a topic config value (a string or number)"),
                  !value.text.isEmpty else {
                throw ConfigurationError(code: .invalidValue, path: entry.path,
                                         message: "must not be empty; expected the topic config's value, e.g. `\(group).retention.ms: 604800000`, or remove the key")
            }
            configs[name] = value.text
        }
        return configs
    }
}
