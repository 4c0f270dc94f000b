package httpretry

import "errors"

// APIError is a permanent error, or the last error once retries are
// exhausted, from an inference or reward model server. The rollout and
// PRM clients both return it (rollout.APIError and prm.APIError name this
// type), so one errors.As and one IsPermanent serve both.
type APIError struct {
	// Prefix starts the message: the client's package ("rollout", "prm").
	Prefix    string
	Backend   string // base URL of the server
	Status    int    // HTTP status of the last attempt; 0 if no response arrived (or the request was invalid)
	Message   string // the server's message, or a description of the failure
	Permanent bool   // the request itself is at fault: retrying it cannot succeed (400, 413, 422, invalid request)
	// BackendFault: the backend, not the request, is at fault (the model
	// is not served there, the key is refused, nothing listens): another
	// backend or worker may well succeed, so the task goes back unharmed.
	BackendFault bool
	Attempts     int   // HTTP attempts made
	Err          error // the last underlying cause
}

func (e *APIError) Error() string {
	return ErrorText(e.Prefix, e.Backend, e.Status, !e.Permanent && !e.BackendFault, e.Attempts, e.Message)
}

func (e *APIError) Unwrap() error { return e.Err }

// IsPermanent reports whether err is (or wraps) an APIError that retrying
// cannot fix.
func IsPermanent(err error) bool {
	var e *APIError
	return errors.As(err, &e) && e.Permanent
}

// IsBackendFault reports whether err is (or wraps) an APIError blaming the
// backend rather than the request.
func IsBackendFault(err error) bool {
	var e *APIError
	return errors.As(err, &e) && e.BackendFault
}

// Invalid is the APIError of a request refused before it was sent.
func Invalid(prefix, backend string, err error) *APIError {
	return &APIError{Prefix: prefix, Backend: backend, Message: err.Error(), Permanent: true, Err: err}
}

// APIError is the error a Run that stopped on a failure leaves, from the
// last attempt's status, message and cause: Permanent or BackendFault as
// the last verdict says, neither when the retries ran out (Transient).
func (st Stop) APIError(prefix, backend string, status int, message string, err error) *APIError {
	return &APIError{
		Prefix: prefix, Backend: backend, Status: status, Message: message,
		Permanent: st.Verdict == Permanent, BackendFault: st.Verdict == BackendFault,
		Attempts: st.Attempts, Err: err,
	}
}
