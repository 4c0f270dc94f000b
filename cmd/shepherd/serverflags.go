package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shepherd-prm/shepherd/client"
	shepherdv1 "github.com/shepherd-prm/shepherd/proto/shepherd/v1"
)

// serverFlags are the flags of a command working through a shepherd
// server (`shepherd serve` and its workers) instead of in-process: --server
// and the connection flags that go with it.
type serverFlags struct {
	addr            string
	token           string
	tlsCA           string
	tlsCert, tlsKey string
	insecure        bool
	maxOutage       time.Duration
}

func (r *serverFlags) register(fs *flag.FlagSet) {
	r.registerFor(fs, "label through the shepherd server at host:port instead of in-process: its workers run the rollouts on their backends (no --backend here) and it sets the window; records and summary are the same")
}

// registerFor adds --server with the given usage and the connection flags
// that go with it.
func (r *serverFlags) registerFor(fs *flag.FlagSet, serverUsage string) {
	fs.StringVar(&r.addr, "server", "", serverUsage)
	fs.StringVar(&r.token, "token", "", "--server: bearer token (prefer SHEPHERD_TOKEN: command lines are visible to other users)")
	fs.StringVar(&r.tlsCA, "tls-ca", "", "--server: PEM CA bundle that signs the server's certificate (default: the system roots)")
	fs.StringVar(&r.tlsCert, "tls-client-cert", "", "--server: PEM client certificate, for a server that requires mutual TLS")
	fs.StringVar(&r.tlsKey, "tls-client-key", "", "--server: PEM key of --tls-client-cert")
	fs.BoolVar(&r.insecure, "insecure", false, "--server: connect without TLS (plaintext)")
	fs.DurationVar(&r.maxOutage, "max-outage", 2*time.Minute, "--server: give up (exit non-zero) when the server cannot be reached for this long; a server refusing new work for now (RESOURCE_EXHAUSTED) is waited for")
}

// connect dials the server, reporting the first retry of an outage on
// stderr under the command's name.
func (r *serverFlags) connect(ctx context.Context, e env, cmd string) (*client.Client, error) {
	if r.insecure && (r.tlsCA != "" || r.tlsCert != "" || r.tlsKey != "") {
		return nil, usageErrorf("--insecure excludes --tls-ca, --tls-client-cert and --tls-client-key")
	}
	if r.maxOutage <= 0 {
		return nil, usageErrorf("--max-outage must be positive, got %v", r.maxOutage)
	}
	opt := client.Options{
		Token: r.token, Insecure: r.insecure, CAFile: r.tlsCA, CertFile: r.tlsCert, KeyFile: r.tlsKey,
		MaxOutage: r.maxOutage,
		OnRetry: func(err error, attempt int, wait time.Duration) {
			switch {
			case status.Code(err) == codes.ResourceExhausted:
				fmt.Fprintf(e.stderr, "shepherd %s: the server refuses new work for now (%s); retrying in %v\n", cmd, status.Convert(err).Message(), wait.Round(time.Millisecond))
			case attempt == 1:
				fmt.Fprintf(e.stderr, "shepherd %s: lost the server (%v); reconnecting for up to %v (--max-outage)\n", cmd, err, r.maxOutage)
			}
		},
	}
	if opt.TokenInPlaintext() {
		fmt.Fprintf(e.stderr, "shepherd %s: warning: --insecure sends the bearer token in plaintext: anyone on the network path to %s can read it (use TLS, or --insecure only on loopback or a trusted network)\n", cmd, r.addr)
	}
	c, err := client.Dial(ctx, r.addr, opt)
	if err != nil {
		return nil, fmt.Errorf("--server: %w", err)
	}
	return c, nil
}

// dial is connect for callers that only need the raw API.
func (r *serverFlags) dial(ctx context.Context, e env, cmd string) (shepherdv1.ShepherdServiceClient, func(), error) {
	c, err := r.connect(ctx, e, cmd)
	if err != nil {
		return nil, nil, err
	}
	return c.API(), func() { c.Close() }, nil
}
