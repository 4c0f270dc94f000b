#!/usr/bin/env bash
# Runs the Python client's tests from the repository root with Debian's
# python3 and packages, installing what is missing first (idempotent):
# python3-grpcio, python3-protobuf (the runtime), python3-venv,
# python3-setuptools, python3-wheel (pip install into a venv), protobuf-compiler,
# protobuf-compiler-grpc, libprotobuf-dev (to check the generated stubs)
# and redis-server (end-to-end test). The end-to-end test also needs Go to
# build ./cmd/shepherd; it skips without it, or fails when CI is set.
set -euo pipefail

cd "$(dirname "$0")/../.."

# Debian's interpreter, where the python3-* packages are installed (a
# python3 earlier on PATH, e.g. a pyenv shim, would not see them).
PYTHON="${PYTHON:-/usr/bin/python3}"
[ -x "$PYTHON" ] || PYTHON=python3

packages=(python3-grpcio python3-protobuf python3-venv python3-setuptools python3-wheel protobuf-compiler protobuf-compiler-grpc libprotobuf-dev redis-server)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
	echo "installing ${missing[*]}" >&2
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

exec "$PYTHON" -m unittest discover -s client/python/tests -v
