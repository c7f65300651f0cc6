# syntax=docker/dockerfile:1
# Build: docker build -t sloprober .
# Run:   docker run -p 9469:9469 -e API_KEY=... -e BASE_URL=... sloprober

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# Dependencies first, so source changes do not rebuild them.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src
COPY src ./src
COPY config ./config
RUN touch src/main.rs src/lib.rs && cargo build --release --locked

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/sloprober /usr/local/bin/sloprober
COPY config/aivo.yaml /etc/sloprober/sloprober.yaml
USER 65532:65532
EXPOSE 9469
ENTRYPOINT ["/usr/local/bin/sloprober"]
CMD ["daemon", "--config", "/etc/sloprober/sloprober.yaml", "--log-format", "json"]
