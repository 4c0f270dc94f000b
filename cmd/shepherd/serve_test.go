package main

import (
	"context"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shepherd-prm/shepherd/client"
	"github.com/shepherd-prm/shepherd/internal/testkit"
	"github.com/shepherd-prm/shepherd/rollout/redisq/redistest"
	"github.com/shepherd-prm/shepherd/server/testcert"
)

// bgCommand is a shepherd command running in-process until its context
// is cancelled, as SIGTERM does in main.
type bgCommand struct {
	t      *testing.T
	out    *testkit.LockedBuffer
	cancel context.CancelFunc
	done   chan int
}

func startCommand(t *testing.T, args ...string) *bgCommand {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b := &bgCommand{t: t, out: &testkit.LockedBuffer{}, cancel: cancel, done: make(chan int, 1)}
	go func() { b.done <- run(ctx, env{stdin: strings.NewReader(""), stdout: b.out, stderr: b.out}, args) }()
	t.Cleanup(func() {
		code := b.stop()
		if t.Failed() {
			t.Logf("--- %v exited %d:\n%s", args, code, b.out.String())
		}
	})
	return b
}

// waitLog waits for output matching re and returns its submatches.
func (b *bgCommand) waitLog(re string) []string {
	b.t.Helper()
	rx := regexp.MustCompile(re)
	for deadline := time.Now().Add(20 * time.Second); ; {
		if m := rx.FindStringSubmatch(b.out.String()); m != nil {
			return m
		}
		select {
		case code := <-b.done:
			b.done <- code
			b.t.Fatalf("command exited with %d before logging %q:\n%s", code, re, b.out.String())
		default:
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("no %q in:\n%s", re, b.out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stop cancels the command's context and returns its exit code.
func (b *bgCommand) stop() int {
	b.cancel()
	select {
	case code := <-b.done:
		b.done <- code
		return code
	case <-time.After(20 * time.Second):
		b.t.Fatal("command did not stop within 20s")
		return -1
	}
}

var quickServe = []string{"--listen", "127.0.0.1:0", "--job-lease-ttl", "1s", "--queue-block", "100ms", "--shutdown-timeout", "1s"}

// startServeCmd runs serve on a Redis and returns its address.
func startServeCmd(t *testing.T, redisAddr string, extra ...string) (*bgCommand, string) {
	t.Helper()
	args := append([]string{"serve", "--redis", "redis://" + redisAddr + "/0"}, quickServe...)
	b := startCommand(t, append(args, extra...)...)
	return b, b.waitLog(`msg="serving shepherd" addr=(\S+)`)[1]
}

func startWorkerCmd(t *testing.T, redisAddr string, extra ...string) *bgCommand {
	t.Helper()
	args := []string{"worker", "--redis", "redis://" + redisAddr + "/0", "--lease-ttl", "1s", "--queue-block", "100ms", "--drain-timeout", "2s"}
	b := startCommand(t, append(args, extra...)...)
	b.waitLog(`msg="worker started"`)
	return b
}

// TestServeAuthTLSAndMetrics: serve with TLS, tokens from a file and
// SHEPHERD_TOKENS, and its metrics listener; it stops with 0.
func TestServeAuthTLSAndMetrics(t *testing.T) {
	rs := redistest.Start(t)
	dir := t.TempDir()
	tca := testcert.NewCA(t)
	cert, key := tca.Issue(t, "server", x509.ExtKeyUsageServerAuth)
	ca := tca.File
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte("# ops\nfile-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SHEPHERD_TOKENS", "env-token-1, env-token-2")
	srv, addr := startServeCmd(t, rs.Addr, "--tls-cert", cert, "--tls-key", key, "--tokens-file", tokens, "--metrics-listen", "127.0.0.1:0")
	metricsURL := srv.waitLog(`msg="serving metrics" url=(\S+)`)[1]
	srv.waitLog(`tls=true mtls=false tokens=3`)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, tok := range []string{"file-token", "env-token-2"} {
		c, err := client.Dial(ctx, addr, client.Options{CAFile: ca, Token: tok})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.List(ctx, client.ListOptions{}); err != nil {
			t.Errorf("token %s: %v", tok, err)
		}
		c.Close()
	}
	c, err := client.Dial(ctx, addr, client.Options{CAFile: ca, Token: "wrong"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.List(ctx, client.ListOptions{}); err == nil || !strings.Contains(err.Error(), "Unauthenticated") {
		t.Errorf("wrong token: %v", err)
	}
	c.Close()

	body := httpGet(t, metricsURL)
	for _, want := range []string{`shepherd_build_info{component="serve"`, `shepherd_grpc_requests_total{`, `shepherd_jobs{state="queued"} 0`} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if got := httpGet(t, strings.TrimSuffix(metricsURL, "/metrics")+"/healthz"); got != "ok\n" {
		t.Errorf("/healthz: %q", got)
	}
	if code := srv.stop(); code != 0 {
		t.Fatalf("serve exited with %d", code)
	}
	if !strings.Contains(srv.out.String(), `msg="stopped serving"`) {
		t.Errorf("no stop message:\n%s", srv.out.String())
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestServeAndWorkerBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"serve", "--tls-cert", "x.pem"}, 2, "both --tls-cert and --tls-key"},
		{[]string{"serve", "--redis", "http://nope"}, 2, "--redis"},
		{[]string{"serve", "--redis-cluster", " , "}, 2, "--redis-cluster"},
		{[]string{"serve", "--log-level", "loud"}, 2, "--log-level"},
		{[]string{"serve", "--tokens-file", "/nonexistent"}, 1, "--tokens-file"},
		{[]string{"serve", "--redis", "redis://127.0.0.1:1/0", "--redis-wait", "100ms"}, 1, "does not answer"},
		{[]string{"serve", "--config", "/nonexistent"}, 2, "nonexistent"},
		{[]string{"serve", "--pprof"}, 2, "--pprof needs --metrics-listen"},
		{[]string{"worker"}, 2, "--backend is required"},
		{[]string{"worker", "--backend", "sim", "--pprof"}, 2, "--pprof needs --metrics-listen"},
		{[]string{"worker", "--backend", "sim", "--lease-ttl", "1ms"}, 2, "--lease-ttl"},
		{[]string{"worker", "--backend", "sim", "--redis", "redis://127.0.0.1:1/0", "--redis-wait", "100ms"}, 1, "does not answer"},
	} {
		code, _, stderr := runShepherd(t, "", tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, stderr, tc.code, tc.want)
		}
	}
}
