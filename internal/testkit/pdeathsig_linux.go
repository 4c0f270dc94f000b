package testkit

import (
	"os/exec"
	"syscall"
)

// SetPdeathsig kills a child process when the test binary dies, so a
// crashed or timed-out test leaves no process behind.
func SetPdeathsig(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
