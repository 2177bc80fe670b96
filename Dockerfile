# Firewatch: one static-ish binary on a distroless base, running as non-root.
# Build:  docker build -t firewatch .
# Run:    docker run -p 8080:8080 -v firewatch-data:/data firewatch
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY migrations migrations
COPY templates templates
COPY static static
COPY runbooks runbooks
RUN cargo build --release --locked --bin firewatch \
 && mkdir -p /data && chown 65532:65532 /data

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/firewatch /usr/local/bin/firewatch
COPY --from=build --chown=65532:65532 /data /data
ENV FIREWATCH__SERVER__LISTEN=0.0.0.0:8080 \
    FIREWATCH__STORAGE__DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 8080
USER 65532:65532
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 \
  CMD ["/usr/local/bin/firewatch", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/firewatch"]
CMD ["serve"]
