package testkit

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestStartProcess(t *testing.T) {
	p := StartProcess(t, "sh", exec.Command("sh", "-c", "echo out; echo err >&2; exit 3"))
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the process did not exit")
	}
	if p.ExitCode() != 3 || !strings.Contains(p.Out.String(), "out") || !strings.Contains(p.Out.String(), "err") {
		t.Errorf("exit %d, output %q; want 3 and both streams", p.ExitCode(), p.Out.String())
	}
}

// TestStartProcessKilledAtEnd: a process still running when its test ends
// is killed.
func TestStartProcessKilledAtEnd(t *testing.T) {
	var p *Process
	t.Run("owner", func(t *testing.T) {
		p = StartProcess(t, "sleep", exec.Command("sleep", "60"))
	})
	select {
	case <-p.Done():
		if p.ExitCode() != -1 {
			t.Errorf("exit %d, want -1 (killed)", p.ExitCode())
		}
	default:
		t.Fatal("the process still runs after its test ended")
	}
}
