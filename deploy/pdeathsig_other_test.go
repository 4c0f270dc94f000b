//go:build !linux

package deploy

import "os/exec"

func setPdeathsig(*exec.Cmd) {}
