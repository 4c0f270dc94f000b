package httpretry

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestErrorMessageFallbacks(t *testing.T) {
	long := strings.Repeat("x", 1000)
	for _, tc := range []struct {
		body   string
		status int
		want   string
	}{
		{`{"error":{"message":"nested","type":"BadRequestError","param":null,"code":400}}`, 400, "nested"},
		{`{"object":"error","message":"flat","type":"BadRequestError","param":null,"code":400}`, 400, "flat"},
		{`{"detail":"Not Found"}`, 404, `{"detail":"Not Found"}`},
		{"", 413, "Request Entity Too Large"},
		{long, 400, long[:300] + "…"},
	} {
		if got := ErrorMessage([]byte(tc.body), tc.status); got != tc.want {
			t.Errorf("ErrorMessage(%.40q) = %q, want %q", tc.body, got, tc.want)
		}
	}
}

func TestErrorText(t *testing.T) {
	for _, tc := range []struct {
		status    int
		exhausted bool
		message   string
		want      string
	}{
		{400, false, "bad n", "p: http://h/v1: 400 Bad Request: bad n"},
		{503, true, "busy", "p: http://h/v1: 503 Service Unavailable: giving up after 3 attempts: busy"},
		{0, true, "connection refused", "p: http://h/v1: giving up after 3 attempts: connection refused"},
		{599, false, "", "p: http://h/v1: 599"},
	} {
		if got := ErrorText("p", "http://h/v1", tc.status, tc.exhausted, 3, tc.message); got != tc.want {
			t.Errorf("ErrorText(%d, %v, %q) = %q, want %q", tc.status, tc.exhausted, tc.message, got, tc.want)
		}
	}
}

func TestNewJSONRequest(t *testing.T) {
	req, err := NewJSONRequest(context.Background(), "http://h/v1/completions", "Bearer k", []byte(`{"n":1}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(req.Body)
	if req.Method != http.MethodPost || req.URL.String() != "http://h/v1/completions" || string(body) != `{"n":1}` ||
		req.Header.Get("Content-Type") != "application/json" || req.Header.Get("Accept") != "application/json" ||
		req.Header.Get("Authorization") != "Bearer k" {
		t.Errorf("request %s %s %q, headers %v", req.Method, req.URL, body, req.Header)
	}
	req, _ = NewJSONRequest(context.Background(), "http://h/pooling", "", nil)
	if _, set := req.Header["Authorization"]; set {
		t.Error("Authorization sent without a key")
	}
}

func TestClientSetupHelpers(t *testing.T) {
	if d, err := OrDefault("prm", "Timeout", 0, time.Minute); err != nil || d != time.Minute {
		t.Errorf("zero timeout: %v, %v", d, err)
	}
	if d, err := OrDefault("prm", "Timeout", time.Second, time.Minute); err != nil || d != time.Second {
		t.Errorf("1s timeout: %v, %v", d, err)
	}
	if _, err := OrDefault("rollout", "Timeout", -time.Second, time.Minute); err == nil || err.Error() != "rollout: ClientOptions.Timeout must be >= 0, got -1s" {
		t.Errorf("negative timeout: %v", err)
	}
	if _, err := OrDefault("prm", "PromptLogprobs", -2, 5); err == nil || err.Error() != "prm: ClientOptions.PromptLogprobs must be >= 0, got -2" {
		t.Errorf("negative count: %v", err)
	}
	for _, c := range []struct{ base, model, want, err string }{
		{"http://h:8000/v1/", "m", "http://h:8000/v1", ""},
		{"", "m", "", "no base"},
		{"ftp://h", "m", "", `x: ClientOptions.BaseURL "ftp://h": scheme must be http or https`},
		{"http://h", " ", "", "no model"},
	} {
		got, err := Target("x", "no base", "no model", c.base, c.model)
		if got != c.want || (err == nil) != (c.err == "") || (err != nil && err.Error() != c.err) {
			t.Errorf("Target(%q, %q) = %q, %v; want %q, %q", c.base, c.model, got, err, c.want, c.err)
		}
	}
	if BearerHeader("") != "" || BearerHeader("k") != "Bearer k" {
		t.Error("BearerHeader")
	}
	tr := NewHTTPClient(256).Transport.(*http.Transport)
	if tr.MaxIdleConnsPerHost != 256 || tr.MaxIdleConns != 1024 || NewHTTPClient(1).Timeout != 0 {
		t.Errorf("idle connections %d per host, %d in all", tr.MaxIdleConnsPerHost, tr.MaxIdleConns)
	}
}
