"""Generated messages and gRPC stub of the shepherd.v1 API (generate.sh; do
not edit the shepherd_pb2* modules)."""
