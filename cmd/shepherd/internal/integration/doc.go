// Package integration holds the process-level tests of the shepherd
// binary: `shepherd serve` and `shepherd worker` processes on a private
// Redis (or Redis Cluster), driven through the client library, with
// workers killed, servers and Redis restarted in the middle of jobs. The
// package has no code of its own; see its tests.
package integration
