// Package proto holds shepherd's public gRPC API: the protobuf definitions
// under shepherd/v1 and the Go code generated from them (package
// github.com/shepherd-prm/shepherd/proto/shepherd/v1, named shepherdv1),
// which is committed. See README.md in this directory for how to
// regenerate it; the tests here fail when the committed code is stale.
package proto

//go:generate bash generate.sh
