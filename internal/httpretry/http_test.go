package httpretry

import (
	"strings"
	"testing"
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
