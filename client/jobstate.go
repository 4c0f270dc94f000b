package client

import (
	"strings"

	shepherdv1 "github.com/shepherd-prm/shepherd/proto/shepherd/v1"
)

// IsTerminal reports whether a job state is terminal (SUCCEEDED, PARTIAL,
// FAILED or CANCELLED): a job in it never changes again.
func IsTerminal(s shepherdv1.JobState) bool {
	switch s {
	case shepherdv1.JobState_JOB_STATE_SUCCEEDED, shepherdv1.JobState_JOB_STATE_PARTIAL,
		shepherdv1.JobState_JOB_STATE_FAILED, shepherdv1.JobState_JOB_STATE_CANCELLED:
		return true
	}
	return false
}

// StateName is a job state's short name: "queued", "running", "succeeded",
// "partial", "failed" or "cancelled".
func StateName(s shepherdv1.JobState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "JOB_STATE_"))
}
