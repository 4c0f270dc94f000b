//go:build !linux

package integration

import "os/exec"

func setPdeathsig(*exec.Cmd) {}
