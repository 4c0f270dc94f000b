"""Generated from proto/shepherd/v1/shepherd.proto by client/python/generate.sh; do not edit."""
