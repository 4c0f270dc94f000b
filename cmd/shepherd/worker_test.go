package main

import (
	"strings"
	"testing"

	"github.com/shepherd-prm/shepherd/rollout/redisq/redistest"
)

// TestWorkerMetricsAndStop: a worker serves its metrics (backends, queue)
// and stops with 0 when its context ends.
func TestWorkerMetricsAndStop(t *testing.T) {
	rs := redistest.Start(t)
	w := startWorkerCmd(t, rs.Addr, "--backend", "sim", "--metrics-listen", "127.0.0.1:0", "--consumer", "w-test", "--pprof")
	url := w.waitLog(`msg="serving metrics" url=(\S+)`)[1]
	w.waitLog(`consumer=w-test tasks=64 lease_ttl=1s`)
	body := httpGet(t, url)
	for _, want := range []string{`shepherd_build_info{component="worker"`, `shepherd_queue_tasks{model="sim",state="waiting"} 0`,
		`shepherd_backend_up{backend="sim"} 1`, `shepherd_rollouts_total{result="correct"} 0`} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// --pprof serves the profiler next to the metrics.
	if body := httpGet(t, strings.TrimSuffix(url, "/metrics")+"/debug/pprof/"); !strings.Contains(body, "goroutine") {
		t.Errorf("/debug/pprof/ serves no profile index: %q", body)
	}
	if code := w.stop(); code != 0 {
		t.Fatalf("worker exited with %d", code)
	}
	if !strings.Contains(w.out.String(), `msg="worker stopped"`) {
		t.Errorf("no stop message:\n%s", w.out.String())
	}
}
