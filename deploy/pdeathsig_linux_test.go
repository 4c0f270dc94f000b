package deploy

import (
	"os/exec"
	"syscall"
)

// setPdeathsig kills the child when the test binary dies, so a crashed or
// timed-out test leaves no Prometheus behind.
func setPdeathsig(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
