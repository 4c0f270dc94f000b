// Package labeler is the pure domain of shepherd: splitting solutions into
// steps, extracting and grading final answers, Monte-Carlo label math and
// the labeling strategies that decide which rollouts to ask for. It does no
// I/O and imports nothing of the project.
package labeler
