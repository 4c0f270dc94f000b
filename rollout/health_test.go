package rollout

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestClientProbe(t *testing.T) {
	models := func(ids ...string) func(w http.ResponseWriter, r *http.Request, i int) bool {
		return func(w http.ResponseWriter, r *http.Request, i int) bool {
			if r.Header.Get("Authorization") != "Bearer k" {
				w.WriteHeader(401)
				_, _ = io.WriteString(w, `{"error":"Unauthorized"}`)
				return true
			}
			var b strings.Builder
			b.WriteString(`{"object":"list","data":[`)
			for i, id := range ids {
				if i > 0 {
					b.WriteString(",")
				}
				b.WriteString(`{"id":"` + id + `","object":"model"}`)
			}
			b.WriteString("]}")
			_, _ = io.WriteString(w, b.String())
			return true
		}
	}
	opt := func(url, key string) ClientOptions {
		o := fastOpts(url)
		o.APIKey = key
		return o
	}
	ok := newFakeServer(t, models("a", "Qwen/Qwen2.5-Math-7B"))
	if err := mustClient(t, opt(ok.url(), "k")).Probe(context.Background()); err != nil {
		t.Errorf("probe of a backend serving the model: %v", err)
	}
	if ok.Path(0) != "/v1/models" {
		t.Errorf("probed %s", ok.Path(0))
	}
	other := newFakeServer(t, models("a", "b"))
	err := mustClient(t, opt(other.url(), "k")).Probe(context.Background())
	if err == nil || !strings.Contains(err.Error(), `does not serve model "Qwen/Qwen2.5-Math-7B" (it serves "a", "b")`) || !strings.Contains(err.Error(), other.url()) {
		t.Errorf("probe of a backend serving other models: %v", err)
	}
	err = mustClient(t, opt(ok.url(), "wrong")).Probe(context.Background())
	if err == nil || !strings.Contains(err.Error(), `401 Unauthorized: "Unauthorized"`) {
		t.Errorf("probe with a refused key: %v", err)
	}
	closed := "http://" + closedAddr(t) + "/v1"
	err = mustClient(t, opt(closed, "k")).Probe(context.Background())
	if err == nil || !strings.Contains(err.Error(), "backend "+closed+" is unreachable") || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("probe of a closed port: %v", err)
	}
}
