package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shepherd-prm/shepherd/internal/httpretry"
	"github.com/shepherd-prm/shepherd/rollout/openai"
)

// ProbeTimeout bounds one GET /v1/models.
const ProbeTimeout = 10 * time.Second

// ErrNoUsableBackend is wrapped by the error of a Pool that has no backend
// left to try: every one is out of rotation for a fault of its own.
var ErrNoUsableBackend = errors.New("no usable inference backend")

// ProbeError says why a backend cannot serve the model, in the server's
// own words where it gave any.
type ProbeError struct {
	Backend string // base URL
	Model   string
	Status  int    // HTTP status of GET /models; 0 if no response
	Message string // the server's message, or the transport failure
	Served  []string
}

func (e *ProbeError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "backend %s", e.Backend)
	switch {
	case e.Status == 0:
		fmt.Fprintf(&b, " is unreachable: %s", e.Message)
	case e.Status/100 != 2:
		fmt.Fprintf(&b, ": GET /models: %d %s: %q", e.Status, http.StatusText(e.Status), e.Message)
	default:
		fmt.Fprintf(&b, " does not serve model %q (it serves %s)", e.Model, quoteList(e.Served))
	}
	return b.String()
}

func quoteList(s []string) string {
	if len(s) == 0 {
		return "no model"
	}
	q := make([]string, len(s))
	for i, m := range s {
		q[i] = strconv.Quote(m)
	}
	return strings.Join(q, ", ")
}

// Probe checks that the backend answers GET /v1/models with the client's
// API key and lists the model: what vLLM, SGLang and llama.cpp server serve
// for the OpenAI client's models.list(). It returns a *ProbeError.
func (c *Client) Probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, min(c.timeout, ProbeTimeout))
	defer cancel()
	perr := &ProbeError{Backend: c.base, Model: c.model}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/models", nil)
	if err != nil {
		perr.Message = err.Error()
		return perr
	}
	req.Header.Set("Accept", "application/json")
	if c.authHeader != "" {
		req.Header.Set("Authorization", c.authHeader)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		perr.Message = httpretry.TransportFailure(ctx, ctx, err, c.timeout).Message
		return perr
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	perr.Status = resp.StatusCode
	if resp.StatusCode/100 != 2 {
		perr.Message = httpretry.ErrorMessage(data, resp.StatusCode)
		return perr
	}
	var list openai.ModelList
	if err == nil {
		err = json.Unmarshal(data, &list)
	}
	if err != nil {
		perr.Status = 0
		perr.Message = "GET /models: unreadable response: " + err.Error()
		return perr
	}
	for _, m := range list.Data {
		if m.ID == c.model {
			return nil
		}
		perr.Served = append(perr.Served, m.ID)
	}
	return perr
}

// Probe checks every backend of the pool at once (see Client.Probe). A
// backend that fails is taken out of rotation with the failure as its
// reason; the others are put back. It returns the failures, one per failed
// backend, in the order of the pool's backends.
func (p *Pool) Probe(ctx context.Context) []error {
	errs := make([]error, len(p.backends))
	var wg sync.WaitGroup
	for i, b := range p.backends {
		wg.Go(func() {
			errs[i] = b.client.Probe(ctx)
			p.setOut(b, errs[i])
		})
	}
	wg.Wait()
	var out []error
	for _, err := range errs {
		if err != nil {
			out = append(out, err)
		}
	}
	return out
}

// Recheck probes the backends that are out of rotation and due for a new
// try, putting back those that pass, and reports whether the pool has a
// usable backend afterwards. A worker with no usable backend calls it
// instead of taking tasks it cannot run.
func (p *Pool) Recheck(ctx context.Context) bool {
	now := p.now()
	var wg sync.WaitGroup
	for _, b := range p.backends {
		b.mu.Lock()
		due := b.outReason != "" && !now.Before(b.downUntil)
		b.mu.Unlock()
		if due {
			wg.Go(func() { p.setOut(b, b.client.Probe(ctx)) })
		}
	}
	wg.Wait()
	return p.Usable()
}

// Usable reports whether some backend is in rotation (it may still be
// skipped for a while after transient failures).
func (p *Pool) Usable() bool {
	for _, b := range p.backends {
		b.mu.Lock()
		ok := b.outReason == ""
		b.mu.Unlock()
		if ok {
			return true
		}
	}
	return false
}

// OutReasons lists why each backend out of rotation is out, as
// "<base URL>: <reason>".
func (p *Pool) OutReasons() []string {
	var out []string
	for _, b := range p.backends {
		b.mu.Lock()
		if b.outReason != "" {
			out = append(out, b.outReason)
		}
		b.mu.Unlock()
	}
	return out
}

// setOut takes b out of rotation for err (nil puts it back) and reports
// the change.
func (p *Pool) setOut(b *poolBackend, err error) {
	b.mu.Lock()
	was := b.outReason
	if err == nil {
		b.outReason = ""
		b.downUntil = time.Time{}
		b.failStreak = 0
	} else {
		b.outReason = err.Error()
		b.downUntil = p.now().Add(p.opt.DownFor)
	}
	now := b.outReason
	b.mu.Unlock()
	if was != now && p.opt.OnBackendState != nil {
		p.opt.OnBackendState(b.client.BaseURL(), now)
	}
}

// outcomeReason words a backend-fault outcome as the reason the backend is
// out of rotation.
func outcomeReason(o attemptOutcome) string {
	switch o.kind {
	case outcomeUnreachable:
		return fmt.Sprintf("backend %s is unreachable: %s", o.backend, o.message)
	case outcomeMisconfigured:
		return fmt.Sprintf("backend %s: %d %s: %q", o.backend, o.status, http.StatusText(o.status), o.message)
	}
	return fmt.Sprintf("backend %s: %s", o.backend, o.message)
}
