package main

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/shepherd-prm/shepherd/server/metrics"
)

func TestSplitBackendName(t *testing.T) {
	for _, c := range []struct{ in, name, target, err string }{
		{in: "http://gpu-1:8000/v1", target: "http://gpu-1:8000/v1"},
		{in: "sim", target: "sim"},
		{in: "gpu1=http://gpu-1:8000/v1", name: "gpu1", target: "http://gpu-1:8000/v1"},
		{in: "local=sim", name: "local", target: "sim"},
		{in: "http://h:1/v1?a=b", target: "http://h:1/v1?a=b"},
		{in: "=http://h/v1", err: "want NAME=URL"},
		{in: "a b=http://h/v1", err: `the name "a b" may hold`},
	} {
		name, target, err := splitBackendName(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: err %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || name != c.name || target != c.target {
			t.Errorf("%q: (%q, %q, %v), want (%q, %q)", c.in, name, target, err, c.name, c.target)
		}
	}
}

// TestBackendMetricLabels: the simulator is labelled "sim" (two of them
// sim and sim-2), a named backend by its name, another by host:port; no
// label carries the simulator's ephemeral port.
func TestBackendMetricLabels(t *testing.T) {
	m := metrics.New("test")
	b := backendFlags{backends: stringList{"sim", "sim", "gpu=http://127.0.0.1:9/v1", "http://127.0.0.2:9/v1"}, concurrency: 4}
	pool, stop, err := b.open(env{stdout: io.Discard, stderr: io.Discard}, m.Observer())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	m.CollectPool(pool)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	var labels []string
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "shepherd_backend_up{") {
			labels = append(labels, line[len("shepherd_backend_up{"):strings.Index(line, "}")])
		}
	}
	want := []string{`backend="127.0.0.2:9"`, `backend="gpu"`, `backend="sim"`, `backend="sim-2"`} // sorted by the exposition
	if strings.Join(labels, " ") != strings.Join(want, " ") {
		t.Errorf("backend labels %v, want %v", labels, want)
	}
}
