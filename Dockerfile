# covacdc container image: a static binary on distroless, running as a non-root user.
#
#   docker build -t covacdc --build-arg VERSION=$(git describe --tags --always) .
#   docker run --rm covacdc --help
#
# The entrypoint is the binary and the default command is "run", so
# `docker run covacdc simulate --addr :8080` runs another subcommand.
#
# No HEALTHCHECK: the final image has no shell, curl or wget to run one. Orchestrators
# probe http://:8477/healthz and /readyz themselves (see deploy/kubernetes and
# deploy/docker-compose.yml).

FROM golang:1.26 AS build
WORKDIR /src
# Modules first, so a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
        -o /out/covacdc ./cmd/covacdc

# distroless/static ships CA certificates (Cova and managed Kafka are reached over TLS),
# tzdata and a passwd entry for the nonroot user, and nothing else.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/covacdc /usr/local/bin/covacdc
# Numeric, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 65532:65532
# /metrics, /healthz and /readyz, on the port the manifests and probes use; a
# --metrics-addr flag or another COVACDC_METRICS_ADDR still wins.
ENV COVACDC_METRICS_ADDR=:8477
EXPOSE 8477
ENTRYPOINT ["/usr/local/bin/covacdc"]
CMD ["run"]
