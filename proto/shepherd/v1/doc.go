// Package shepherdv1 is the Go binding of the shepherd.v1 gRPC API
// (shepherd.proto): the messages, the ShepherdService client and the server
// interface. The .pb.go files are generated from shepherd.proto by buf; do
// not edit them, run proto/generate.sh instead.
package shepherdv1
