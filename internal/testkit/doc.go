// Package testkit holds the helpers the tests of several packages share:
// a parent-death signal for child processes, a buffer a process may write
// while a test reads it, a fake HTTP server recording the requests of a
// client under test, and the location of the reference data set. It is
// imported by tests and test helpers only.
package testkit
