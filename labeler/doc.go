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
// # A problem's path
//
// A problem has one prepared shape, PreparedSolution: a solution with its
// steps, its problem's question and gold answer, and an optional Key of
// its source's. Every path makes it once and labels it as it is:
//
//   - `shepherd label`: a JSONL line, or an imported data set row
//     (dataset.Problems, handed over as a Problem), is a Problem;
//     Problem.Prepare checks it and splits its solutions.
//   - Through a server: the client sends problems checked as far as they
//     can be without a split (Problem.Check: fields, limits, ids; `shepherd
//     label` also reads a regular --in file through Prepare once first, to
//     fail before it writes, with the same rules and options). The server
//     checks the request and splits each solution once
//     (SolutionInput.Split), stores the steps as character ranges, and
//     replays them as PreparedSolutions with a positional Key, so that
//     duplicate problem ids cannot collide.
//
// The scheduler (rollout.RunJob) hands the Key back on the solution's
// Record, which keeps each step's LabelSource too (Record.Sources, not
// written): metrics and scoring read how a label was reached instead of
// guessing it from the columns.
//
// A new labeling strategy is a Strategy constant, its entries in Strategies
// and newPlans (strategy.go), and its Plan in a file of its own; the API
// names it STRATEGY_<NAME> in proto/shepherd/v1/shepherd.proto, and the
// conversions (proto/convert), the server's validation and the Python
// client find it there by name.
package labeler
