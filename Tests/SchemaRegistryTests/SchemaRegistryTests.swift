import Foundation
import Testing
@testable import SchemaRegistry

private let recordV1 = #"{"type":"record","name":"Value","namespace":"app.public.t","fields":[{"name":"id","type":"int"}]}"#
/// v1 plus an optional field with a null default: BACKWARD compatible.
private let recordV2 = #"{"type":"record","name":"Value","namespace":"app.public.t","fields":[{"name":"id","type":"int"},{"name":"note","type":["null","string"],"default":null}]}"#
/// v2 plus a required field without default: not BACKWARD compatible.
private let recordV3 = #"{"type":"record","name":"Value","namespace":"app.public.t","fields":[{"name":"id","type":"int"},{"name":"note","type":["null","string"],"default":null},{"name":"qty","type":"int"}]}"#

@Suite("Schema Registry client against the test registry", .serialized)
struct SchemaRegistryClientTests {
    @Test func registersLooksUpAndReadsBack() throws {
        let registry = try TestRegistry()
        let client = SchemaRegistryClient(settings: SchemaRegistrySettings(urls: [registry.url]))
        let id = try client.register(subject: "app.public.t-value", schema: recordV1)
        #expect(try client.register(subject: "app.public.t-value", schema: recordV1) == id)
        #expect(try client.lookup(subject: "app.public.t-value", schema: recordV1) == id)
        #expect(try client.schema(id: id) == recordV1)
        let id2 = try client.register(subject: "app.public.t-value", schema: recordV2)
        #expect(id2 != id)
        // The same schema under another subject: the same global id.
        #expect(try client.register(subject: "other-value", schema: recordV2) == id2)
        do {
            _ = try client.lookup(subject: "app.public.t-value", schema: recordV3)
            Issue.record("lookup of an unregistered schema succeeded")
        } catch {
            #expect(error.code == .notFound)
            #expect(error.registryErrorCode == 40403)
            #expect(!error.isRetriable)
        }
    }

    @Test func incompatibleSchemaIsRefusedWithTheRegistrysMessage() throws {
        let registry = try TestRegistry()
        let client = SchemaRegistryClient(settings: SchemaRegistrySettings(urls: [registry.url]))
        _ = try client.register(subject: "app.public.t-value", schema: recordV2)
        do {
            _ = try client.register(subject: "app.public.t-value", schema: recordV3)
            Issue.record("an incompatible schema was registered")
        } catch {
            #expect(error.code == .incompatible)
            #expect(error.httpStatus == 409)
            #expect(error.subject == "app.public.t-value")
            #expect(error.message.contains("incompatible"))
            #expect(!error.isRetriable)
            #expect("\(error)".contains("app.public.t-value"))
        }
    }

    @Test func failsOverToTheNextURLAndRemembersIt() throws {
        let registry = try TestRegistry()
        // Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
        let client = SchemaRegistryClient(settings: SchemaRegistrySettings(urls: ["http://127.0.0.1:9", registry.url]))
        let id = try client.register(subject: "s-value", schema: recordV1)
        #expect(try client.schema(id: id) == recordV1)
        #expect(try registry.requests().count == 2)
    }

    @Test func unreachableRegistryIsRetriable() throws {
        let client = SchemaRegistryClient(settings: SchemaRegistrySettings(urls: ["http://127.0.0.1:9"]))
        do {
            _ = try client.register(subject: "s-value", schema: recordV1)
            Issue.record("registered without a registry")
        } catch {
            #expect(error.code == .unreachable)
            #expect(error.isRetriable)
            #expect(error.subject == "s-value")
        }
    }

    @Test func serverErrorsAndSlowAnswersAreRetriable() throws {
        let registry = try TestRegistry()
        let client = SchemaRegistryClient(settings: SchemaRegistrySettings(urls: [registry.url], requestTimeoutMilliseconds: 500))
        try registry.control("fail", #"{"status":503,"count":1}"#)
        do {
            _ = try client.register(subject: "s-value", schema: recordV1)
            Issue.record("a 503 answer was taken")
        } catch {
            #expect(error.code == .serverError)
            #expect(error.httpStatus == 503)
            #expect(error.isRetriable)
        }
        try registry.control("delay", #"{"ms":2000}"#)
        do {
            _ = try client.register(subject: "s-value", schema: recordV1)
            Issue.record("a slow answer was waited for past the timeout")
        } catch {
            #expect(error.code == .unreachable)
            #expect(error.isRetriable)
        }
        try registry.control("delay", #"{"ms":0}"#)
        _ = try client.register(subject: "s-value", schema: recordV1)
    }

    @Test func basicAuth() throws {
        let registry = try TestRegistry(arguments: ["--user", "swallow:s3cret"])
        let anonymous = SchemaRegistryClient(settings: SchemaRegistrySettings(urls: [registry.url]))
        do {
            _ = try anonymous.register(subject: "s-value", schema: recordV1)
            Issue.record("registered without credentials")
        } catch {
            #expect(error.code == .unauthorized)
            #expect(!error.isRetriable)
        }
        let wrong = SchemaRegistryClient(settings: SchemaRegistrySettings(urls: [registry.url], username: "swallow", password: "nope"))
        #expect(throws: SchemaRegistryError.self) { try wrong.register(subject: "s-value", schema: recordV1) }
        let client = SchemaRegistryClient(settings: SchemaRegistrySettings(urls: [registry.url], username: "swallow", password: "s3cret"))
        #expect(try client.register(subject: "s-value", schema: recordV1) == 1)
    }

    @Test func mutualTLS() throws {
        let pki = try TestPKI()
        let registry = try TestRegistry(arguments: ["--tls-cert", pki.serverCertificate, "--tls-key", pki.serverKey,
                                                    "--tls-client-ca", pki.ca])
        let url = "https://localhost:\(registry.port)"
        let client = SchemaRegistryClient(settings: SchemaRegistrySettings(
            urls: [url], tls: .init(caFile: pki.ca, certificateFile: pki.clientCertificate, keyFile: pki.clientKey)))
        #expect(try client.register(subject: "s-value", schema: recordV1) == 1)
        // Without trusting the CA, the server's certificate is refused.
        let untrusting = SchemaRegistryClient(settings: SchemaRegistrySettings(
            urls: [url], tls: .init(certificateFile: pki.clientCertificate, keyFile: pki.clientKey)))
        #expect(throws: SchemaRegistryError.self) { try untrusting.register(subject: "s-value", schema: recordV1) }
        // Without a client certificate, the registry refuses the handshake.
        let anonymous = SchemaRegistryClient(settings: SchemaRegistrySettings(urls: [url], tls: .init(caFile: pki.ca)))
        #expect(throws: SchemaRegistryError.self) { try anonymous.register(subject: "s-value", schema: recordV1) }
        // A key file that does not exist is a TLS configuration error, not an outage.
        let broken = SchemaRegistryClient(settings: SchemaRegistrySettings(
            urls: [url], tls: .init(caFile: pki.ca, certificateFile: pki.clientCertificate, keyFile: "/nonexistent.pem")))
        do {
            _ = try broken.register(subject: "s-value", schema: recordV1)
            Issue.record("registered with a missing key file")
        } catch {
            #expect(!error.isRetriable)
        }
    }
}

@Suite("Schema Registry decisions")
struct SchemaRegistryDecisionTests {
    @Test func subjectNames() {
        #expect(SubjectNameStrategy.topicName.subject(topic: "app.public.t", isKey: true, recordName: "app.public.t.Key") == "app.public.t-key")
        #expect(SubjectNameStrategy.topicName.subject(topic: "app.public.t", isKey: false, recordName: nil) == "app.public.t-value")
        #expect(SubjectNameStrategy.recordName.subject(topic: "x", isKey: false, recordName: "app.public.t.Envelope") == "app.public.t.Envelope")
        #expect(SubjectNameStrategy.topicRecordName.subject(topic: "x", isKey: true, recordName: "app.public.t.Key") == "x-app.public.t.Key")
        #expect(SubjectNameStrategy.recordName.subject(topic: "x", isKey: false, recordName: nil) == nil)
    }

    @Test func subjectsArePercentEncodedInPaths() {
        #expect(RegistryRequest.registerPath(subject: "app.public.t-value") == "/subjects/app.public.t-value/versions")
        #expect(RegistryRequest.lookupPath(subject: "a b/c") == "/subjects/a%20b%2Fc")
    }

    @Test func answersMapToErrors() {
        let body = Array(#"{"error_code":40901,"message":"incompatible with an earlier schema"}"#.utf8)
        let error = RegistryRequest.error(status: 409, body: body, subject: "s")
        #expect(error.code == .incompatible && error.registryErrorCode == 40901 && !error.isRetriable)
        #expect(error.message == "incompatible with an earlier schema")
        #expect(RegistryRequest.error(status: 500, body: [], subject: "s").isRetriable)
        #expect(RegistryRequest.error(status: 429, body: [], subject: "s").isRetriable)
        #expect(RegistryRequest.error(status: 422, body: [], subject: "s").code == .invalidSchema)
        #expect(RegistryRequest.error(status: 403, body: [], subject: "s").code == .unauthorized)
        #expect(RegistryRequest.error(status: 400, body: Array("not json".utf8), subject: "s").message == "not json")
    }

    @Test func retryBacksOffWithinItsBudget() {
        let retry = SchemaRegistryRetry(initialMilliseconds: 100, maximumMilliseconds: 1_000, budgetMilliseconds: 5_000)
        #expect(retry.delay(afterAttempt: 1, elapsedMilliseconds: 0) == 100)
        #expect(retry.delay(afterAttempt: 2, elapsedMilliseconds: 100) == 200)
        #expect(retry.delay(afterAttempt: 5, elapsedMilliseconds: 1_500) == 1_000)
        #expect(retry.delay(afterAttempt: 9, elapsedMilliseconds: 4_800) == 200)
        #expect(retry.delay(afterAttempt: 10, elapsedMilliseconds: 5_000) == nil)
        #expect(retry.delay(afterAttempt: 1_000, elapsedMilliseconds: 0) == 1_000)
    }
}

/// A CA, a server certificate for localhost and a client certificate, made with openssl for one test.
struct TestPKI {
    let directory: String
    var ca: String { directory + "/ca.pem" }
    var serverCertificate: String { directory + "/server.pem" }
    var serverKey: String { directory + "/server.key" }
    var clientCertificate: String { directory + "/client.pem" }
    var clientKey: String { directory + "/client.key" }

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("pki-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let script = """
        set -e
        cd '\(directory)'
        openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=test-ca 2>/dev/null
        printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > san.ext
        openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost 2>/dev/null
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile san.ext 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj /CN=swallow 2>/dev/null
        openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 2 2>/dev/null
        """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw RegistryStartFailure(message: "openssl could not make the test certificates") }
    }
}

@Suite("Schema Registry: an id that does not resolve")
struct SchemaRegistryUnknownIDTests {
    @Test func anUnknownIDIsNotFoundAndNotRetried() throws {
        let registry = try TestRegistry()
        let client = SchemaRegistryClient(settings: SchemaRegistrySettings(urls: [registry.url]))
        do {
            _ = try client.schema(id: 4242)
            Issue.record("an unknown schema id resolved")
        } catch {
            #expect(error.code == .notFound)
            #expect(error.registryErrorCode == 40403)
            #expect(!error.isRetriable)
        }
    }
}
