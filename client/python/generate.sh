#!/usr/bin/env bash
# Regenerates the Python messages and gRPC stub of the public API,
# client/python/shepherd_prm/_proto/shepherd_pb2{.py,.pyi,_grpc.py}, from
# proto/shepherd/v1/shepherd.proto.
#
# The generators are Debian bookworm's, the same releases as the oldest
# runtimes the package declares: protoc 3.21.12 (protobuf-compiler, matching
# python3-protobuf 3.21.12, Python protobuf 4.21.12) and grpc_python_plugin
# 1.51.1 (protobuf-compiler-grpc, matching python3-grpcio 1.51.1). Debian's
# python3-grpc-tools (1.14.1, bundling protoc 3.5.1) cannot be used: it
# predates proto3 `optional`, which the API uses.
#
# The proto is compiled from a copy at shepherd_prm/_proto/shepherd.proto
# (its package, shepherd.v1, and so the wire names are unchanged), so the
# generated modules are shepherd_prm._proto.* and the stub's own import,
# `from shepherd_prm._proto import shepherd_pb2`, stays inside the client's
# namespace: no top-level module that could collide with another
# distribution. The generated files are not edited.
#
#   client/python/generate.sh          # regenerate in place
#   client/python/generate.sh DIR      # write into DIR instead (tests)
set -euo pipefail

PROTOC_VERSION="libprotoc 3.21.12"

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${1:-$here}"

if ! command -v protoc >/dev/null || ! command -v grpc_python_plugin >/dev/null ||
	[ ! -f /usr/include/google/protobuf/timestamp.proto ]; then
	echo "installing protobuf-compiler protobuf-compiler-grpc libprotobuf-dev" >&2
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq protobuf-compiler protobuf-compiler-grpc libprotobuf-dev >/dev/null
fi
have="$(protoc --version)"
if [ "$have" != "$PROTOC_VERSION" ]; then
	echo "generate.sh: want $PROTOC_VERSION, found $have" >&2
	exit 1
fi

src="$(mktemp -d)"
trap 'rm -rf "$src"' EXIT
mkdir -p "$src/shepherd_prm/_proto" "$out"
out="$(cd "$out" && pwd)"
cp "$root/proto/shepherd/v1/shepherd.proto" "$src/shepherd_prm/_proto/shepherd.proto"
(cd "$src" && protoc \
	-I . \
	-I /usr/include \
	--python_out="$out" \
	--pyi_out="$out" \
	--grpc_python_out="$out" \
	--plugin=protoc-gen-grpc_python="$(command -v grpc_python_plugin)" \
	shepherd_prm/_proto/shepherd.proto)
