package prm_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shepherd-prm/shepherd/labeler"
	"github.com/shepherd-prm/shepherd/rollout/prm"
	"github.com/shepherd-prm/shepherd/rollout/prm/prmsim"
)

// zeroLatencyPRM answers every pooling request at once with a fixed row
// per step tag, so a benchmark measures the scorer, the client and HTTP,
// not a model.
func zeroLatencyPRM(b *testing.B) *httptest.Server {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req prm.PoolingRequest
		if err := json.Unmarshal(body, &req); err != nil || len(req.Input) != 1 {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		n := strings.Count(req.Input[0], "<extra_0>")
		var out bytes.Buffer
		out.WriteString(`{"id":"pool-1","object":"list","created":1,"model":"m","data":[{"index":0,"object":"pooling","data":[`)
		for k := range n {
			if k > 0 {
				out.WriteByte(',')
			}
			fmt.Fprintf(&out, "[%g,%g]", 0.1+0.01*float64(k), 0.9-0.01*float64(k))
		}
		out.WriteString(`]}],"usage":{"prompt_tokens":100,"total_tokens":100,"completion_tokens":0}}`)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(out.Bytes())
	}))
	b.Cleanup(hs.Close)
	return hs
}

// benchInput is a question with n distinct candidates of 6 steps each.
func benchInput(q, n int) prm.ScoreInput {
	gold := "42"
	in := prm.ScoreInput{ID: fmt.Sprint("q", q), Question: "Start with 4. Add 3, multiply by 2, then add 28. What is the result?", Answer: &gold,
		Options: prm.ScoreOptions{Layout: prm.QwenPRM}}
	for i := range n {
		ans := []string{"42", "42.0", "43", "84/2"}[i%4]
		in.Candidates = append(in.Candidates, labeler.SolutionInput{Text: fmt.Sprintf(
			"We start from 4 (candidate %d of question %d).\n4 + 3 = 7.\n7 * 2 = 14.\n14 + 28 = 42.\nSo the result is 42.\nThe answer is %s.", i, q, ans)})
	}
	return in
}

// BenchmarkScore measures Scorer throughput (candidates/s) and the latency
// of one Score call (p50, p99) against a zero-latency PRM server: one call
// at a time (seq), and eight callers at once (parallel).
func BenchmarkScore(b *testing.B) {
	for _, bc := range []struct {
		name       string
		candidates int
		callers    int
	}{
		{"seq/candidates=16", 16, 1},
		{"parallel/candidates=16", 16, 8},
		{"seq/candidates=64", 64, 1},
	} {
		b.Run(bc.name, func(b *testing.B) {
			hs := zeroLatencyPRM(b)
			cl, err := prm.NewClient(prm.ClientOptions{BaseURL: hs.URL, Model: "m"})
			if err != nil {
				b.Fatal(err)
			}
			sc := &prm.Scorer{PRM: cl, Concurrency: 32}
			inputs := make([]prm.ScoreInput, 64)
			for q := range inputs {
				inputs[q] = benchInput(q, bc.candidates)
			}
			lat := make([]time.Duration, 0, b.N)
			var mu sync.Mutex
			next := make(chan int, b.N)
			for i := range b.N {
				next <- i
			}
			close(next)
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for range bc.callers {
				wg.Go(func() {
					for i := range next {
						t0 := time.Now()
						if _, err := sc.Score(context.Background(), inputs[i%len(inputs)]); err != nil {
							b.Error(err)
							return
						}
						d := time.Since(t0)
						mu.Lock()
						lat = append(lat, d)
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(b.N*bc.candidates)/elapsed.Seconds(), "candidates/s")
			b.ReportMetric(float64(percentile(lat, 0.50).Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "p99-ms")
		})
	}
}

func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// countingWriter counts the bytes a handler writes.
type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (c countingWriter) Write(p []byte) (int, error) {
	c.n.Add(int64(len(p)))
	return c.ResponseWriter.Write(p)
}

// BenchmarkScoreLogprobs measures Math-Shepherd scoring through prompt
// logprobs against the simulated PRM (its tokenizer is one token per
// character, so prompts are long): candidates/s, and the response bytes of
// one candidate's /tokenize and /v1/completions answers, for 5 and 20 top
// logprobs per position.
func BenchmarkScoreLogprobs(b *testing.B) {
	for _, k := range []int{5, 20} {
		b.Run(fmt.Sprint("prompt_logprobs=", k), func(b *testing.B) {
			s, err := prmsim.New(prmsim.Options{Model: "m"})
			if err != nil {
				b.Fatal(err)
			}
			var bytesOut atomic.Int64
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s.ServeHTTP(countingWriter{w, &bytesOut}, r)
			}))
			b.Cleanup(hs.Close)
			cl, err := prm.NewClient(prm.ClientOptions{BaseURL: hs.URL, Model: "m", PromptLogprobs: k})
			if err != nil {
				b.Fatal(err)
			}
			sc := &prm.Scorer{PRM: cl, Concurrency: 8}
			inputs := make([]prm.ScoreInput, 16)
			for q := range inputs {
				inputs[q] = benchInput(q, 8)
				inputs[q].Options.Layout = prm.MathShepherd
			}
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				if _, err := sc.Score(context.Background(), inputs[i%len(inputs)]); err != nil {
					b.Fatal(err)
				}
			}
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N*8)/elapsed.Seconds(), "candidates/s")
			b.ReportMetric(float64(bytesOut.Load())/float64(b.N*8), "resp-bytes/candidate")
		})
	}
}
