// Package testkit holds the helpers the tests of several packages share:
// child processes owned by a test (StartProcess: output collected, a
// parent-death signal, killed and logged when the test ends), a buffer a
// process may write while a test reads it, a fake HTTP server recording the
// requests of a client under test, and the location of the reference data
// set. It is imported by tests and test helpers only.
package testkit
