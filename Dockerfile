# syntax=docker/dockerfile:1
# Swallow in a container: a Swift toolchain image builds a release binary with the Swift runtime linked
# in statically; a slim Debian image runs it as a non-root user with libpq and librdkafka.
#
#   docker build -t swallow .
#   docker run --rm -v "$PWD/swallow.yaml:/etc/swallow/swallow.yaml:ro" -v swallow-state:/var/lib/swallow swallow
#
# The configuration is mounted at /etc/swallow/swallow.yaml, with state_dir /var/lib/swallow (the default).
# Give secrets as files, e.g. Docker secrets under /run/secrets read with ${file:/run/secrets/NAME}.
# The health check asks GET /healthz of the configuration's http.listen. Set SWALLOW_HEALTH_ADDRESS to
# that host:port if it is not 127.0.0.1:8080.

ARG SWIFT_IMAGE=swift:6.3-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${SWIFT_IMAGE} AS build
RUN export DEBIAN_FRONTEND=noninteractive \
    && apt-get update -q \
    && apt-get install -y -q --no-install-recommends libpq-dev librdkafka-dev libcurl4-openssl-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# --static-swift-stdlib links the Swift runtime and Foundation into the binary, so the runtime image
# needs no toolchain. The build directory is a cache mount (kept between builds, never in a layer),
# so the binary is copied out in the same step.
RUN --mount=type=cache,target=/src/.build \
    swift build -c release --static-swift-stdlib --product swallow \
    && install -D -m 0755 "$(swift build -c release --show-bin-path)/swallow" /out/swallow

FROM ${RUNTIME_IMAGE}
RUN export DEBIAN_FRONTEND=noninteractive \
    && apt-get update -q \
    && apt-get install -y -q --no-install-recommends libpq5 librdkafka1 libcurl4 libstdc++6 ca-certificates \
    && rm -rf /var/lib/apt/lists/*
# A fixed, unprivileged UID/GID, so volume ownership and Kubernetes' runAsNonRoot work.
RUN groupadd --system --gid 10001 swallow \
    && useradd --system --uid 10001 --gid swallow --home-dir /var/lib/swallow --no-create-home \
       --shell /usr/sbin/nologin swallow \
    && install -d -o swallow -g swallow -m 0750 /var/lib/swallow \
    && install -d -m 0755 /etc/swallow
COPY --from=build /out/swallow /usr/local/bin/swallow
COPY deploy/docker/healthcheck.sh /usr/local/bin/swallow-healthcheck
# The documented example configuration, for reference; mount the real one at /etc/swallow/swallow.yaml.
COPY Config/swallow.yaml /usr/share/doc/swallow/swallow.yaml

USER 10001:10001
WORKDIR /var/lib/swallow
# Snapshot progress lives here (state_dir): keep it on a volume so a restarted container resumes.
VOLUME ["/var/lib/swallow"]
ENV SWALLOW_HEALTH_ADDRESS=127.0.0.1:8080
# SIGTERM is a clean stop that waits up to kafka.flush_timeout_ms (30 s by default) for in-flight
# deliveries: stop containers with a longer grace period (docker stop -t 45, compose stop_grace_period).
STOPSIGNAL SIGTERM
# The initial snapshot of a large database can take long; it is reported in the log.
HEALTHCHECK --interval=15s --timeout=6s --start-period=60s --retries=3 CMD ["/usr/local/bin/swallow-healthcheck"]
ENTRYPOINT ["/usr/local/bin/swallow"]
CMD ["run", "--config", "/etc/swallow/swallow.yaml"]
