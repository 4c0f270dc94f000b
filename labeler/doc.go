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
// A new labeling strategy is a Strategy constant, its entries in Strategies
// and newPlans (strategy.go), and its Plan in a file of its own; the API
// names it STRATEGY_<NAME> in proto/shepherd/v1/shepherd.proto, and the
// conversions (proto/convert), the server's validation and the Python
// client find it there by name.
package labeler
