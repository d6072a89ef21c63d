# Builds a static apiwatch binary and copies it onto distroless, which has
# CA certificates (for probing HTTPS endpoints) and runs as a non-root user.
#
#   make docker
#   docker run -p 9850:9850 \
#     -v "$PWD/apiwatch.yml:/etc/apiwatch/apiwatch.yml:ro" \
#     -v apiwatch-data:/apiwatch apiwatch:0.1.0

FROM golang:1.26 AS builder
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# .git is not sent to the engine, so `make docker` passes these in.
ARG REVISION=unknown
ARG BRANCH=unknown
RUN make build REVISION="$REVISION" BRANCH="$BRANCH" BUILD_USER=docker \
 && mkdir -p /out/apiwatch

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=builder /src/bin/apiwatch /bin/apiwatch
# The storage directory must belong to the nonroot user (65532) before the
# volume is created from it.
COPY --from=builder --chown=65532:65532 /out/apiwatch /apiwatch
USER 65532:65532
EXPOSE 9850
VOLUME ["/apiwatch"]
ENTRYPOINT ["/bin/apiwatch"]
CMD ["--config.file=/etc/apiwatch/apiwatch.yml", "--storage.path=/apiwatch"]
