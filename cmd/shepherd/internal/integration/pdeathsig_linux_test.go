package integration

import (
	"os/exec"
	"syscall"
)

// setPdeathsig kills a child process when the test binary dies, so a
// crashed or timed-out test leaves no process behind.
func setPdeathsig(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
