package client_test

import (
	"testing"

	"github.com/shepherd-prm/shepherd/client"
	shepherdv1 "github.com/shepherd-prm/shepherd/proto/shepherd/v1"
)

func TestJobStates(t *testing.T) {
	if client.StateName(shepherdv1.JobState_JOB_STATE_PARTIAL) != "partial" || !client.IsTerminal(shepherdv1.JobState_JOB_STATE_FAILED) {
		t.Error("job state helpers")
	}
}
