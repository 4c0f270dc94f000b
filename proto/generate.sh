#!/usr/bin/env bash
# Regenerates the Go code of the public API from proto/**/*.proto with buf and
# local plugins, after formatting and linting the .proto files. Installs the
# pinned tools into GOBIN (go env GOBIN, else GOPATH/bin) when they are
# missing or at another version; generation itself needs no network.
#
# The pins are read by proto/generate_test.go too. PROTOC_GEN_GO_VERSION must
# equal the google.golang.org/protobuf version in go.mod; after bumping a pin,
# run this script and commit the result.
set -euo pipefail

BUF_VERSION=v1.57.0
PROTOC_GEN_GO_VERSION=v1.36.12
PROTOC_GEN_GO_GRPC_VERSION=v1.6.2

cd "$(dirname "$0")/.."
gobin="$(go env GOBIN)"
[ -n "$gobin" ] || gobin="$(go env GOPATH)/bin"
export PATH="$gobin:$PATH"

# ensure <binary> <package> <version>: installs package@version unless
# <binary> --version already reports it.
ensure() {
	local have
	have="$("$1" --version 2>/dev/null || true)"
	case "$have" in
	*" ${3#v}" | *" $3" | "${3#v}") ;;
	*)
		echo "installing $2@$3 (found: ${have:-none})" >&2
		GOBIN="$gobin" go install "$2@$3"
		;;
	esac
}
ensure buf github.com/bufbuild/buf/cmd/buf "$BUF_VERSION"
ensure protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go "$PROTOC_GEN_GO_VERSION"
ensure protoc-gen-go-grpc google.golang.org/grpc/cmd/protoc-gen-go-grpc "$PROTOC_GEN_GO_GRPC_VERSION"

buf format -w
buf lint
buf generate --template buf.gen.yaml
