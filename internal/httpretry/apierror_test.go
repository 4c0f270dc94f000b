package httpretry

import (
	"errors"
	"fmt"
	"testing"
)

func TestStopAPIError(t *testing.T) {
	cause := errors.New("HTTP 400: too long")
	for _, tc := range []struct {
		verdict                 Verdict
		permanent, backendFault bool
		want                    string
	}{
		{Permanent, true, false, "rollout: http://h/v1: 400 Bad Request: too long"},
		{BackendFault, false, true, "rollout: http://h/v1: 400 Bad Request: too long"},
		{Transient, false, false, "rollout: http://h/v1: 400 Bad Request: giving up after 3 attempts: too long"},
	} {
		e := Stop{Verdict: tc.verdict, Attempts: 3}.APIError("rollout", "http://h/v1", 400, "too long", cause)
		if e.Permanent != tc.permanent || e.BackendFault != tc.backendFault || e.Attempts != 3 || e.Error() != tc.want {
			t.Errorf("verdict %d: %+v, %q", tc.verdict, e, e.Error())
		}
		wrapped := fmt.Errorf("task t1: %w", e)
		if IsPermanent(wrapped) != tc.permanent || IsBackendFault(wrapped) != tc.backendFault || !errors.Is(wrapped, cause) {
			t.Errorf("verdict %d: wrapped error lost its kind or cause", tc.verdict)
		}
	}
	if IsPermanent(cause) || IsBackendFault(cause) || IsPermanent(nil) {
		t.Error("a plain error taken for an APIError")
	}
}

func TestInvalid(t *testing.T) {
	cause := errors.New("prm: no input")
	e := Invalid("prm", "http://h:8000", cause)
	if !e.Permanent || e.Attempts != 0 || e.Status != 0 || e.Error() != "prm: http://h:8000: prm: no input" || !errors.Is(e, cause) {
		t.Errorf("%+v: %q", e, e.Error())
	}
}
