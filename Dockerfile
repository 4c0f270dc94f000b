# syntax=docker/dockerfile:1
#
# The shepherd binary in a distroless image, running as nonroot:
#
#   docker build -t shepherd --build-arg VERSION=$(git describe --tags --always --dirty) .
#   docker run --rm shepherd sim --listen 0.0.0.0:8000

FROM golang:1.26 AS build
WORKDIR /src
# Modules first, so that a source change reuses the download layer.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/shepherd-prm/shepherd/server/metrics.Version=${VERSION}" \
      -o /out/shepherd ./cmd/shepherd

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/shepherd /shepherd
USER nonroot:nonroot
# gRPC API (serve), metrics (--metrics-listen), simulator (sim).
EXPOSE 7070 9100 8000
ENTRYPOINT ["/shepherd"]
