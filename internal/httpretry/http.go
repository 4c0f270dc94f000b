package httpretry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/shepherd-prm/shepherd/rollout/openai"
)

// NormaliseBaseURL checks a ClientOptions.BaseURL (http or https, a host,
// no query or fragment) and trims trailing slashes. Errors start with
// prefix (the package name); required is the message for an empty URL.
func NormaliseBaseURL(prefix, required, raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", errors.New(required)
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("%s: ClientOptions.BaseURL %q: %w", prefix, raw, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("%s: ClientOptions.BaseURL %q: scheme must be http or https", prefix, raw)
	case u.Host == "":
		return "", fmt.Errorf("%s: ClientOptions.BaseURL %q: missing host", prefix, raw)
	case u.RawQuery != "" || u.Fragment != "":
		return "", fmt.Errorf("%s: ClientOptions.BaseURL %q: must not carry a query or fragment", prefix, raw)
	}
	return strings.TrimRight(s, "/"), nil
}

// Target checks the server a client talks to: its base URL, normalised as
// NormaliseBaseURL does (baseRequired is the message for an empty one), and
// a model name, which must not be blank (modelRequired is that message).
func Target(prefix, baseRequired, modelRequired, rawBase, model string) (string, error) {
	base, err := NormaliseBaseURL(prefix, baseRequired, rawBase)
	if err != nil {
		return "", err
	}
	if strings.TrimSpace(model) == "" {
		return "", errors.New(modelRequired)
	}
	return base, nil
}

// NewHTTPClient is the client an HTTPClient option of nil stands for:
// keep-alives with idlePerHost idle connections per server, so that as many
// requests in flight to one server need not reopen TCP connections, and no
// client-wide timeout (each attempt carries its own deadline).
func NewHTTPClient(idlePerHost int) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 4 * idlePerHost
	t.MaxIdleConnsPerHost = idlePerHost
	t.IdleConnTimeout = 90 * time.Second
	return &http.Client{Transport: t}
}

// OrDefault checks a ClientOptions field that must not be negative, a
// per-attempt timeout or a count: zero takes def. The error starts with
// prefix (the package name) and names the field.
func OrDefault[T int | time.Duration](prefix, field string, v, def T) (T, error) {
	if v < 0 {
		return 0, fmt.Errorf("%s: ClientOptions.%s must be >= 0, got %v", prefix, field, v)
	}
	if v == 0 {
		return def, nil
	}
	return v, nil
}

// BearerHeader is the Authorization header carrying an API key; "" for no
// key.
func BearerHeader(apiKey string) string {
	if apiKey == "" {
		return ""
	}
	return "Bearer " + apiKey
}

// Status classifies an HTTP error status.
type Status int

const (
	// StatusThrottled: 429 or 503, the server is alive but overloaded.
	StatusThrottled Status = iota
	// StatusServerError: another 5xx, or 408.
	StatusServerError
	// StatusMisconfigured: 401, 403 or 404. vLLM answers 404 "The model
	// `X` does not exist." for a model it does not serve, and 401 for a
	// missing or wrong --api-key; a 404 may also be a wrong base URL. None
	// of these is the request's fault.
	StatusMisconfigured
	// StatusPermanent: another 4xx; the request itself is at fault.
	StatusPermanent
)

// ClassifyStatus classifies a non-2xx HTTP status.
func ClassifyStatus(code int) Status {
	switch {
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		return StatusThrottled
	case code >= 500 || code == http.StatusRequestTimeout:
		return StatusServerError
	case code == http.StatusUnauthorized || code == http.StatusForbidden || code == http.StatusNotFound:
		return StatusMisconfigured
	}
	return StatusPermanent
}

// Retryable reports whether a status is worth retrying against the same
// server.
func (s Status) Retryable() bool { return s == StatusThrottled || s == StatusServerError }

// ErrorMessage extracts the server's message from an error body, falling
// back to a trimmed snippet of the body, then to the status text.
func ErrorMessage(data []byte, status int) string {
	var eb openai.ErrorBody
	if json.Unmarshal(data, &eb) == nil {
		if m := strings.TrimSpace(eb.Text()); m != "" {
			return m
		}
	}
	s := strings.Join(strings.Fields(string(data)), " ")
	const maxSnippet = 300
	if len(s) > maxSnippet {
		s = strings.ToValidUTF8(s[:maxSnippet], "") + "…"
	}
	if s == "" {
		s = http.StatusText(status)
	}
	return s
}

// ErrorText is the message of a client's API error: "prefix: backend",
// then the HTTP status and its text when a response arrived, the attempts
// made when the retries ran out (exhausted), and the server's message: the
// text of an APIError.
func ErrorText(prefix, backend string, status int, exhausted bool, attempts int, message string) string {
	var b strings.Builder
	b.WriteString(prefix)
	b.WriteString(": ")
	b.WriteString(backend)
	if status != 0 {
		b.WriteString(": ")
		b.WriteString(strconv.Itoa(status))
		if t := http.StatusText(status); t != "" {
			b.WriteString(" ")
			b.WriteString(t)
		}
	}
	if exhausted {
		fmt.Fprintf(&b, ": giving up after %d attempts", attempts)
	}
	if message != "" {
		b.WriteString(": ")
		b.WriteString(message)
	}
	return b.String()
}

// NewJSONRequest builds a POST of a JSON body that asks for JSON back,
// with authHeader (e.g. "Bearer <key>") as Authorization unless empty.
func NewJSONRequest(ctx context.Context, url, authHeader string, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if authHeader != "" {
		req.Header.Set("Authorization", authHeader)
	}
	return req, nil
}
