package httpretry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"time"
)

// MaxResponseBytes bounds a response body; anything larger is treated as a
// broken response.
const MaxResponseBytes = 64 << 20

// Outcome classifies one HTTP exchange.
type Outcome int

const (
	OutcomeOK          Outcome = iota // a 2xx response, its body read in full
	OutcomeStatus                     // a non-2xx status: ClassifyStatus tells which kind
	OutcomeCanceled                   // the caller's context ended
	OutcomeTimeout                    // no complete response within the attempt's deadline
	OutcomeUnreachable                // connection refused, unknown host
	OutcomeConnError                  // connection reset, closed mid-response, body cut short
	OutcomeTooLarge                   // a 2xx body over MaxResponseBytes
	OutcomeBadRequest                 // the request could not be built
)

// Exchange is what one POST brought back.
type Exchange struct {
	Outcome    Outcome
	Status     int           // HTTP status; 0 if no response arrived
	Body       []byte        // OutcomeOK: the response body
	RetryAfter time.Duration // a retryable status's Retry-After; 0 if absent
	Message    string        // not OK: the server's message or a description of the failure
	Err        error         // not OK: the cause
}

// Post makes one attempt, never retried: it posts body as JSON to url
// (authHeader as Authorization unless empty) under a deadline of timeout
// that covers reading the body, and classifies what came back. The
// caller decodes a 2xx body and maps the outcome to its own kinds.
func Post(ctx context.Context, hc *http.Client, timeout time.Duration, url, authHeader string, body []byte) Exchange {
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := NewJSONRequest(actx, url, authHeader, body)
	if err != nil {
		return Exchange{Outcome: OutcomeBadRequest, Message: err.Error(), Err: err}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return TransportFailure(ctx, actx, err, timeout)
	}
	defer resp.Body.Close()
	data, readErr := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	x := Exchange{Status: resp.StatusCode}
	if resp.StatusCode/100 != 2 {
		x.Outcome = OutcomeStatus
		x.Message = ErrorMessage(data, resp.StatusCode)
		x.Err = StatusError(resp.StatusCode, x.Message)
		switch {
		case ctx.Err() != nil:
			x.Outcome, x.Err = OutcomeCanceled, ctx.Err()
		case ClassifyStatus(resp.StatusCode).Retryable():
			x.RetryAfter, _ = ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		}
		return x
	}
	if readErr != nil {
		x = TransportFailure(ctx, actx, readErr, timeout)
		x.Status = resp.StatusCode
		return x
	}
	if len(data) > MaxResponseBytes {
		x.Outcome, x.Message = OutcomeTooLarge, fmt.Sprintf("response body larger than %d bytes", MaxResponseBytes)
		x.Err = errors.New(x.Message)
		return x
	}
	x.Body = data
	return x
}

// StatusError is the cause an error status carries: the status and the
// server's message.
func StatusError(status int, message string) error {
	return fmt.Errorf("HTTP %d: %s", status, message)
}

// TransportFailure classifies an error that left no usable response. ctx
// is the caller's, actx the attempt's (ctx with timeout as its deadline;
// a caller whose own deadline is the attempt's passes ctx twice).
func TransportFailure(ctx, actx context.Context, err error, timeout time.Duration) Exchange {
	x := Exchange{Message: err.Error(), Err: err}
	var nerr net.Error
	var dnsErr *net.DNSError
	switch {
	case ctx.Err() != nil:
		x.Outcome, x.Err = OutcomeCanceled, ctx.Err()
	case actx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &nerr) && nerr.Timeout()):
		x.Outcome = OutcomeTimeout
		x.Message = fmt.Sprintf("no complete response within %v", timeout)
		x.Err = fmt.Errorf("%s: %w", x.Message, err)
	case errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &dnsErr):
		x.Outcome = OutcomeUnreachable
	default:
		x.Outcome = OutcomeConnError
	}
	return x
}
