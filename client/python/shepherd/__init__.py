"""Generated gRPC stubs of the shepherd API (proto package shepherd.v1)."""
