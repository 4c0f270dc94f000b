package redistest

import (
	"os/exec"
	"syscall"
)

// setPdeathsig kills the server when the test binary dies, so a crashed or
// timed-out test leaves no redis-server behind.
func setPdeathsig(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
