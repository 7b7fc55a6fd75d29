# refit's container image: a static binary, CA certificates and a state volume, FROM scratch.
#
# From source (needs the official Rust image):
#   docker build -t refit .
# From a binary built on this machine (offline; what scripts/build-image.sh does):
#   docker build --build-arg DIST=context -t refit .
#
# Only the stages the chosen DIST needs are built (BuildKit, the default since Docker 23; set
# DOCKER_BUILDKIT=1 on older engines), so the offline build never pulls the Rust image.

ARG RUST_IMAGE=rust:1-bookworm
# Where the runtime stage takes /out from: `builder` (compile here) or `context` (the files
# scripts/build-image.sh staged under target/image-root/).
ARG DIST=builder

FROM ${RUST_IMAGE} AS builder
WORKDIR /src
COPY . .
RUN RUSTFLAGS="-C target-feature=+crt-static" \
      cargo build --locked --profile dist --target x86_64-unknown-linux-gnu \
 && mkdir -p /out/etc/ssl/certs /out/var/lib/refit /out/etc/refit \
 && cp target/x86_64-unknown-linux-gnu/dist/refit /out/refit \
 && cp /etc/ssl/certs/ca-certificates.crt /out/etc/ssl/certs/

FROM scratch AS context
COPY target/image-root/ /out/

FROM ${DIST} AS dist

FROM scratch AS runtime
ARG VERSION=0.1.0
COPY --from=dist /out/ /
# Without a CA bundle reqwest cannot build a client, even for plain-HTTP registries.
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    REFIT_STATE_PATH=/var/lib/refit/refit.db
VOLUME ["/var/lib/refit"]
LABEL org.opencontainers.image.title="refit" \
      org.opencontainers.image.description="Keeps the containers of a Docker host on their newest image, safely" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
# No shell in the image: the healthcheck is refit itself, reading the daemon's heartbeat.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 CMD ["/refit", "healthcheck"]
ENTRYPOINT ["/refit"]
CMD ["run"]
