package client

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/shepherd-prm/shepherd/labeler"
	"github.com/shepherd-prm/shepherd/proto/convert"
	shepherdv1 "github.com/shepherd-prm/shepherd/proto/shepherd/v1"
)

// Defaults of Options.
const (
	DefaultMaxMessageBytes = 64 << 20
	DefaultMinBackoff      = 100 * time.Millisecond
	DefaultMaxBackoff      = 5 * time.Second
	DefaultMaxOutage       = 5 * time.Minute
)

// Options configure a Client. Zero values take the defaults.
type Options struct {
	// Token is the bearer token sent with every call; empty sends none.
	Token string

	// Insecure connects without TLS (plaintext), for a server on loopback
	// or behind a TLS-terminating proxy. It excludes the TLS options.
	Insecure bool
	// TLS is the TLS configuration; nil means the system roots (plus
	// CAFile, CertFile and KeyFile when set).
	TLS *tls.Config
	// CAFile is a PEM bundle of the CAs that sign the server's certificate,
	// used instead of the system roots.
	CAFile string
	// CertFile and KeyFile are the PEM client certificate and key for
	// mutual TLS; both or neither.
	CertFile, KeyFile string

	// MaxMessageBytes bounds a message sent or received
	// (DefaultMaxMessageBytes; the server has its own bound on requests).
	MaxMessageBytes int

	// MinBackoff and MaxBackoff pace the retries after a transient error:
	// the wait doubles from MinBackoff up to MaxBackoff, with jitter
	// (DefaultMinBackoff, DefaultMaxBackoff).
	MinBackoff, MaxBackoff time.Duration
	// MaxOutage is how long calls keep being retried while they fail with
	// transient errors; a stream counts from its last message received
	// (DefaultMaxOutage; negative retries until the context ends). A
	// RESOURCE_EXHAUSTED refusal (the server is at its admission bound) is
	// retried after the delay the server asks for, and does not count
	// towards the outage: the server answers.
	MaxOutage time.Duration
	// OnRetry, when set, sees every transient error that is retried.
	OnRetry func(err error, attempt int, wait time.Duration)

	// Lazy makes Dial return without checking that the server answers
	// (its health service); the first call connects.
	Lazy bool
	// DialOptions are appended to the client's own gRPC dial options.
	DialOptions []grpc.DialOption
}

func (o Options) withDefaults() Options {
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = DefaultMinBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	o.MaxBackoff = max(o.MaxBackoff, o.MinBackoff)
	if o.MaxOutage == 0 {
		o.MaxOutage = DefaultMaxOutage
	}
	return o
}

// transportCredentials builds the connection's security from the options.
func (o Options) transportCredentials() (credentials.TransportCredentials, error) {
	hasTLS := o.TLS != nil || o.CAFile != "" || o.CertFile != "" || o.KeyFile != ""
	if o.Insecure {
		if hasTLS {
			return nil, errors.New("client: Options.Insecure excludes TLS, CAFile, CertFile and KeyFile")
		}
		return insecure.NewCredentials(), nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.TLS != nil {
		cfg = o.TLS.Clone()
	}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("client: CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("client: CA file %s holds no PEM certificate", o.CAFile)
		}
		cfg.RootCAs = pool
	}
	switch {
	case (o.CertFile == "") != (o.KeyFile == ""):
		return nil, errors.New("client: a client certificate needs both CertFile and KeyFile")
	case o.CertFile != "":
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("client: loading client certificate %s and key %s: %w", o.CertFile, o.KeyFile, err)
		}
		cfg.Certificates = append(cfg.Certificates, cert)
	}
	return credentials.NewTLS(cfg), nil
}

// bearer sends the token with every call.
type bearer struct {
	token  string
	secure bool
}

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + b.token}, nil
}

func (b bearer) RequireTransportSecurity() bool { return b.secure }

// TokenInPlaintext reports whether the options send a bearer token over a
// connection without TLS, where anyone on the path can read it.
func (o Options) TokenInPlaintext() bool { return o.Token != "" && o.Insecure }

// Client is a connection to a shepherd server. It is safe for concurrent
// use; Close releases it.
type Client struct {
	conn *grpc.ClientConn
	api  shepherdv1.ShepherdServiceClient
	opt  Options
}

// Dial connects to the server at addr (host:port, or any gRPC target).
// Unless Options.Lazy is set it checks within ctx that the server answers,
// so a wrong address, port or certificate fails here with the reason.
// The connection itself is re-established as needed for the client's
// life.
func Dial(ctx context.Context, addr string, opt Options) (*Client, error) {
	opt = opt.withDefaults()
	creds, err := opt.transportCredentials()
	if err != nil {
		return nil, err
	}
	dopts := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(opt.MaxMessageBytes), grpc.MaxCallSendMsgSize(opt.MaxMessageBytes)),
	}
	if opt.Token != "" {
		dopts = append(dopts, grpc.WithPerRPCCredentials(bearer{token: opt.Token, secure: !opt.Insecure}))
	}
	dopts = append(dopts, opt.DialOptions...)
	conn, err := grpc.NewClient(addr, dopts...)
	if err != nil {
		return nil, fmt.Errorf("client: %s: %w", addr, err)
	}
	c := &Client{conn: conn, api: shepherdv1.NewShepherdServiceClient(conn), opt: opt}
	if !opt.Lazy {
		_, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: shepherdv1.ShepherdService_ServiceDesc.ServiceName})
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("client: connecting to %s: %w", addr, err)
		}
	}
	return c, nil
}

// Close closes the connection; open streams end.
func (c *Client) Close() error { return c.conn.Close() }

// Conn is the underlying gRPC connection.
func (c *Client) Conn() *grpc.ClientConn { return c.conn }

// API is the generated service stub, for calls the client does not wrap
// (Score). Its calls carry the token but are not retried.
func (c *Client) API() shepherdv1.ShepherdServiceClient { return c.api }

// Request is a labeling job to submit.
type Request struct {
	// RequestID is the idempotency key: submitting the same request with
	// the same id again returns the job the first submission created. A
	// request without one gets a random id (see Job.RequestId), which
	// protects the client's own retries.
	RequestID string
	// Model is the model the rollouts are sampled from; required.
	Model string
	// Spec is how to label; nil means every server default.
	Spec *shepherdv1.JobSpec
	// Problems are the problems to label.
	Problems []labeler.Problem
}

func (r Request) submitRequest() (*shepherdv1.SubmitJobRequest, error) {
	problems, err := convert.ProblemsProto(r.Problems)
	if err != nil {
		return nil, err
	}
	id := r.RequestID
	if id == "" {
		id = NewRequestID()
	}
	return &shepherdv1.SubmitJobRequest{RequestId: id, Model: r.Model, Spec: r.Spec, Problems: problems}, nil
}

// NewRequestID returns a random request id (a version 4 UUID).
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// Submit creates a labeling job and returns it (usually QUEUED) without
// waiting for a label. A retry with the same RequestID returns the same
// job.
func (c *Client) Submit(ctx context.Context, r Request) (*shepherdv1.Job, error) {
	req, err := r.submitRequest()
	if err != nil {
		return nil, err
	}
	return c.SubmitProto(ctx, req)
}

// SubmitProto is Submit with an API request; its request_id must be set.
func (c *Client) SubmitProto(ctx context.Context, req *shepherdv1.SubmitJobRequest) (*shepherdv1.Job, error) {
	return jobCall(ctx, c, func() (*shepherdv1.SubmitJobResponse, error) { return c.api.SubmitJob(ctx, req) })
}

// Get returns a job's current state and counts.
func (c *Client) Get(ctx context.Context, jobID string) (*shepherdv1.Job, error) {
	return jobCall(ctx, c, func() (*shepherdv1.GetJobResponse, error) {
		return c.api.GetJob(ctx, &shepherdv1.GetJobRequest{JobId: jobID})
	})
}

// Cancel stops a job and returns it: CANCELLED, or the terminal state it
// had already reached.
func (c *Client) Cancel(ctx context.Context, jobID string) (*shepherdv1.Job, error) {
	return jobCall(ctx, c, func() (*shepherdv1.CancelJobResponse, error) {
		return c.api.CancelJob(ctx, &shepherdv1.CancelJobRequest{JobId: jobID})
	})
}

// jobCall makes an RPC that answers with a job, with c's retries.
func jobCall[R interface{ GetJob() *shepherdv1.Job }](ctx context.Context, c *Client, call func() (R, error)) (*shepherdv1.Job, error) {
	var job *shepherdv1.Job
	err := c.retry(ctx, func() error {
		resp, err := call()
		job = resp.GetJob()
		return err
	})
	return job, err
}

// ListOptions select a page of jobs.
type ListOptions struct {
	// PageSize is the jobs per page: 0 means the server's default (50).
	PageSize int
	// PageToken is the previous page's next page token; empty for the
	// first page.
	PageToken string
	// States keeps only jobs in these states; empty keeps all.
	States []shepherdv1.JobState
}

// List returns one page of the caller's jobs, newest first, and the token
// of the next page ("" on the last page).
func (c *Client) List(ctx context.Context, opt ListOptions) ([]*shepherdv1.Job, string, error) {
	var resp *shepherdv1.ListJobsResponse
	err := c.retry(ctx, func() error {
		var err error
		resp, err = c.api.ListJobs(ctx, &shepherdv1.ListJobsRequest{PageSize: int32(opt.PageSize), PageToken: opt.PageToken, States: opt.States})
		return err
	})
	if err != nil {
		return nil, "", err
	}
	return resp.GetJobs(), resp.GetNextPageToken(), nil
}

// retry runs call until it succeeds, fails with a permanent error, or has
// failed with transient errors for MaxOutage.
func (c *Client) retry(ctx context.Context, call func() error) error {
	var b backoff
	for {
		err := call()
		if err == nil || !transient(ctx, err) {
			return err
		}
		if werr := c.wait(ctx, &b, err); werr != nil {
			return werr
		}
	}
}

// backoff is the state of one run of retries.
type backoff struct {
	attempt int
	since   time.Time // first failure of the current outage
}

func (b *backoff) reset() { *b = backoff{} }

// wait sleeps before the next attempt after err, or returns the error to
// give up with: the context's, or err once the outage lasted MaxOutage.
func (c *Client) wait(ctx context.Context, b *backoff, err error) error {
	if b.attempt == 0 || status.Code(err) == codes.ResourceExhausted {
		// A server that refuses work for now is up: MaxOutage bounds the
		// time the server cannot be reached, not the wait for room.
		b.since = time.Now()
	}
	b.attempt++
	if c.opt.MaxOutage > 0 && time.Since(b.since) >= c.opt.MaxOutage {
		return fmt.Errorf("giving up after %d attempts in %v: %w", b.attempt, time.Since(b.since).Round(time.Millisecond), err)
	}
	d := c.opt.MinBackoff << min(b.attempt-1, 20)
	if d <= 0 || d > c.opt.MaxBackoff {
		d = c.opt.MaxBackoff
	}
	d = d/2 + mrand.N(d/2+1) // jitter: [d/2, d]
	if hint := retryDelay(err); hint > d {
		// The server said when to come back (an overloaded server's
		// RESOURCE_EXHAUSTED): no sooner, with up to 10% jitter so that
		// refused clients do not all come back at once.
		d = hint + mrand.N(hint/10+1)
	}
	if c.opt.OnRetry != nil {
		c.opt.OnRetry(err, b.attempt, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	case <-t.C:
		return nil
	}
}

// transient reports whether a call that failed with err may succeed when
// made again: the server or the connection went away (UNAVAILABLE, also
// a call cut short by the server's side while ctx is still live), the
// server's job store was briefly unreachable (UNAVAILABLE), or the server
// refused new work for now (RESOURCE_EXHAUSTED other than a size limit).
func transient(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	st, ok := status.FromError(err)
	if !ok {
		return false
	}
	switch st.Code() {
	case codes.Unavailable, codes.Aborted:
		return true
	case codes.ResourceExhausted:
		// The server is at its admission bound (it sends a retry delay);
		// a message over a size limit will not fit any better later.
		return !strings.Contains(st.Message(), "larger than max")
	case codes.Canceled, codes.DeadlineExceeded:
		// Not ours (ctx is live): the transport ended the call.
		return true
	case codes.Internal:
		// An HTTP/2 stream reset by a proxy or a dying server, as opposed
		// to an error of the service itself.
		return strings.Contains(st.Message(), "RST_STREAM")
	}
	return false
}

// retryDelay is the wait a server asked for in err (a google.rpc.RetryInfo
// detail), 0 if none.
func retryDelay(err error) time.Duration {
	st, ok := status.FromError(err)
	if !ok {
		return 0
	}
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay().IsValid() {
			return max(ri.GetRetryDelay().AsDuration(), 0)
		}
	}
	return 0
}
