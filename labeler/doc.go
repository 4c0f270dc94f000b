// Package labeler is the pure core of shepherd: the labeling input and its
// validation (Problem, Prepare, the gold answer), splitting solutions into
// steps, the Monte-Carlo label math, the labeling strategies that decide
// which rollouts to ask for, reranking, and the label record. It does no
// I/O and imports nothing of the project.
//
// Two subpackages build on it: labeler/grade extracts final answers and
// decides their equivalence (the Grader), and labeler/dataset converts
// records into trainer formats and public data sets into labeling input.
//
// A new labeling strategy is a Strategy constant and its Plan: the constant,
// ParseStrategy and the NewPlan switch in strategy.go, the plan itself in a
// file of its own (exhaustive and binary live in strategy.go). The
// distributed path names strategies in the API too: the proto enum
// (proto/shepherd/v1/shepherd.proto, then make proto), its two conversions in
// proto/convert/convert.go, the accepted values in server/validate.go and
// the Python client's names in client/python/shepherd_prm/build.py.
package labeler
