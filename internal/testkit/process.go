package testkit

import (
	"os"
	"os/exec"
	"testing"
)

// Process is a child process a test started, with its output collected.
type Process struct {
	Cmd  *exec.Cmd
	Out  *LockedBuffer // standard output and error
	Name string
	done chan struct{}
	code int
}

// StartProcess starts cmd, its standard output and error going to Out,
// with a parent-death signal. When the test ends the process is killed if
// it still runs, and its output is logged if the test failed (or
// SHEPHERD_TEST_LOGS is set).
func StartProcess(t testing.TB, name string, cmd *exec.Cmd) *Process {
	t.Helper()
	p := &Process{Cmd: cmd, Out: &LockedBuffer{}, Name: name, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.Out, p.Out
	SetPdeathsig(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		_ = cmd.Wait()
		p.code = cmd.ProcessState.ExitCode()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() || os.Getenv("SHEPHERD_TEST_LOGS") != "" {
			t.Logf("--- output of %s (%v):\n%s", name, cmd.Args[1:], p.Out.String())
		}
	})
	return p
}

// Done is closed once the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// ExitCode is the process's exit status once Done is closed (-1 when a
// signal killed it).
func (p *Process) ExitCode() int { return p.code }
