package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/shepherd-prm/shepherd/rollout/openai"
)

// A server with 4 slots runs two requests of n=2 at once and queues the
// rest: 4 requests take two rounds, and the sequence-seconds are slots
// times the modelled duration, whatever the waiting.
func TestSimMaxNumSeqsQueues(t *testing.T) {
	const lat = 60 * time.Millisecond
	s := New(Options{MaxNumSeqs: 4, Latency: lat})
	var wg sync.WaitGroup
	peak := 0
	stopWatch := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			select {
			case <-stopWatch:
				return
			case <-time.After(time.Millisecond):
			}
			if st := s.Stats(); st.Running > peak {
				peak = st.Running
			}
		}
	}()
	start := time.Now()
	for i := range 4 {
		wg.Go(func() {
			complete(t, s, openai.CompletionRequest{Prompt: prompt16(""), Sampling: openai.Sampling{N: 2, Seed: seed(int64(i))}})
		})
	}
	wg.Wait()
	wall := time.Since(start)
	close(stopWatch)
	<-watched
	if wall < 2*lat {
		t.Errorf("4 requests of 2 sequences on 4 slots took %v, want at least two rounds (%v)", wall, 2*lat)
	}
	if peak > 4 {
		t.Errorf("%d sequences ran at once, want at most 4", peak)
	}
	st := s.Stats()
	if want := 4 * 2 * lat.Seconds(); st.SeqSeconds < want*0.99 || st.SeqSeconds > want*1.01 {
		t.Errorf("SeqSeconds = %v, want %v", st.SeqSeconds, want)
	}
	if st.Running != 0 || st.Waiting != 0 {
		t.Errorf("after the requests: running %d, waiting %d", st.Running, st.Waiting)
	}
}

// A request waiting for slots whose client goes away leaves the queue, and
// the requests behind it go ahead.
func TestSimMaxNumSeqsCancelWhileQueued(t *testing.T) {
	s := New(Options{MaxNumSeqs: 2, Latency: 100 * time.Millisecond})
	done := completeInBackground(t, s, 2, func(st Stats) bool { return st.Running == 2 })
	ctx, cancel := context.WithCancel(context.Background())
	b, _ := json.Marshal(openai.CompletionRequest{Prompt: prompt16(""), Sampling: openai.Sampling{N: 1}})
	req := httptest.NewRequest("POST", "/v1/completions", bytes.NewReader(b)).WithContext(ctx)
	req.Header.Set("Content-Type", "application/json")
	served := make(chan struct{})
	go func() { defer close(served); s.ServeHTTP(httptest.NewRecorder(), req) }()
	waitStats(s, func(st Stats) bool { return st.Waiting == 1 })
	cancel()
	<-served
	if st := s.Stats(); st.Waiting != 0 || st.ByStatus[499] != 1 {
		t.Errorf("after the client left: waiting %d, 499s %d", st.Waiting, st.ByStatus[499])
	}
	<-done
}

// Cached prompt tokens cost no prefill time; uncached ones do.
func TestSimPrefillCost(t *testing.T) {
	s := New(Options{PrefillTokenLatency: time.Millisecond, MaxNumSeqs: 8})
	req := openai.CompletionRequest{Prompt: prompt16("16 - 3 = 13.\n"), Sampling: openai.Sampling{N: 1, Temperature: ptr(0.0), MaxTokens: 1}}
	first := complete(t, s, req)
	after1 := s.Stats().SeqSeconds
	second := complete(t, s, req)
	after2 := s.Stats().SeqSeconds - after1
	if second.Usage.PromptTokensDetails.CachedTokens == 0 {
		t.Fatal("the repeated prompt was not cached")
	}
	uncached1 := first.Usage.PromptTokens - first.Usage.PromptTokensDetails.CachedTokens
	uncached2 := second.Usage.PromptTokens - second.Usage.PromptTokensDetails.CachedTokens
	if want := time.Duration(uncached1) * time.Millisecond; after1 != want.Seconds() {
		t.Errorf("first request: %v sequence-seconds, want %v", after1, want.Seconds())
	}
	if want := time.Duration(uncached2) * time.Millisecond; after2 < want.Seconds()*0.999 || after2 > want.Seconds()*1.001 || after2 >= after1 {
		t.Errorf("cached request: %v sequence-seconds, want %v (less than %v)", after2, want.Seconds(), after1)
	}
}

func TestParseSpec(t *testing.T) {
	o, n, err := ParseSpec("sim?count=16&max-num-seqs=64&latency=40ms&token-latency=5ms&prefill-token-latency=20us")
	if err != nil {
		t.Fatal(err)
	}
	if n != 16 || o.MaxNumSeqs != 64 || o.Latency != 40*time.Millisecond || o.TokenLatency != 5*time.Millisecond || o.PrefillTokenLatency != 20*time.Microsecond {
		t.Errorf("got %+v, count %d", o, n)
	}
	if _, n, err := ParseSpec("sim"); err != nil || n != 1 {
		t.Errorf("plain sim: count %d, %v", n, err)
	}
	for spec, want := range map[string]string{
		"sim?count=0":            "count=0: must be in [1, 1024]",
		"sim?max-num-seqs=-1":    "MaxNumSeqs = -1: must not be negative",
		"sim?latency=fast":       `latency="fast"`,
		"sim?gpus=2":             `unknown option "gpus"`,
		"simulator?count=2":      `must start with "sim"`,
		"sim?count=1&count=2":    "count given 2 times",
		"sim?step-accuracy=1.5":  "StepAccuracy = 1.5",
		"sim?token-latency=-1ms": "TokenLatency = -1ms",
	} {
		if _, _, err := ParseSpec(spec); err == nil || !bytes.Contains([]byte(err.Error()), []byte(want)) {
			t.Errorf("ParseSpec(%q) = %v, want an error with %q", spec, err, want)
		}
	}
}

func TestFleet(t *testing.T) {
	f, err := StartFleet(3, Options{MaxNumSeqs: 8, Latency: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Stop()
	if f.Slots() != 24 || len(f.URLs) != 3 {
		t.Fatalf("slots %d, urls %v", f.Slots(), f.URLs)
	}
	start := time.Now()
	for _, u := range f.URLs {
		b, _ := json.Marshal(openai.CompletionRequest{Prompt: prompt16(""), Sampling: openai.Sampling{N: 8}})
		resp, err := http.Post(u+"/completions", "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	wall := time.Since(start)
	st := f.Stats()
	if st.Choices != 24 || st.SeqSeconds < 24*0.01*0.99 {
		t.Errorf("fleet stats %+v", st)
	}
	if u := f.Utilization(st.SeqSeconds, wall); !(u > 0 && u <= 1) {
		t.Errorf("utilization %v over %v", u, wall)
	}
}

// A request's sequences take slots one by one, as vLLM schedules the child
// requests of a parallel-sampling request: on 4 slots with 2 taken, a
// request of n=3 runs 2 sequences at once and queues the third, leaving no
// slot idle, and answers once the third has run its time.
func TestSimSequencesTakeSlotsOneByOne(t *testing.T) {
	const lat = 80 * time.Millisecond
	s := New(Options{MaxNumSeqs: 4, Latency: lat})
	first := completeInBackground(t, s, 2, func(st Stats) bool { return st.Running == 2 })
	start := time.Now()
	second := completeInBackground(t, s, 3, func(st Stats) bool { return st.Waiting == 1 })
	if st := s.Stats(); st.Running != 4 {
		t.Errorf("running %d with one sequence queued, want all 4 slots", st.Running)
	}
	<-first
	<-second
	// The third sequence starts when the first request ends and runs lat.
	if wall := time.Since(start); wall < lat {
		t.Errorf("the n=3 request answered after %v, before its queued sequence could run (%v)", wall, lat)
	}
	if st := s.Stats(); st.Running != 0 || st.Waiting != 0 {
		t.Errorf("after the requests: running %d, waiting %d", st.Running, st.Waiting)
	} else if want := 5 * lat.Seconds(); st.SeqSeconds < want*0.99 || st.SeqSeconds > want*1.01 {
		t.Errorf("SeqSeconds = %v, want 5 sequences x %v", st.SeqSeconds, lat)
	}
}

// completeInBackground sends a request for n samples without waiting for
// its answer and returns once ready holds of the server's stats; the
// channel closes when the request is answered.
func completeInBackground(t *testing.T, s *Server, n int, ready func(Stats) bool) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		complete(t, s, openai.CompletionRequest{Prompt: prompt16(""), Sampling: openai.Sampling{N: n}})
	}()
	waitStats(s, ready)
	return done
}

// waitStats polls the server's stats until ready holds.
func waitStats(s *Server, ready func(Stats) bool) {
	for !ready(s.Stats()) {
		time.Sleep(time.Millisecond)
	}
}

// TestFleetStatsSumsEveryCounter: a fleet's stats are the sum of its
// servers', field by field.
func TestFleetStatsSumsEveryCounter(t *testing.T) {
	var one Stats
	v := reflect.ValueOf(&one).Elem()
	for i := range v.NumField() {
		switch f := v.Field(i); f.Kind() {
		case reflect.Int, reflect.Int64:
			f.SetInt(int64(i + 1))
		case reflect.Float64:
			f.SetFloat(float64(i) + 0.5)
		}
	}
	one.ByStatus = map[int]int64{200: 3, 429: 1}
	sum := Stats{ByStatus: map[int]int64{}}
	sum.add(one)
	sum.add(one)
	s := reflect.ValueOf(sum)
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		switch f := v.Field(i); f.Kind() {
		case reflect.Int, reflect.Int64:
			if s.Field(i).Int() != 2*f.Int() {
				t.Errorf("%s = %d, want %d", name, s.Field(i).Int(), 2*f.Int())
			}
		case reflect.Float64:
			if s.Field(i).Float() != 2*f.Float() {
				t.Errorf("%s = %v, want %v", name, s.Field(i).Float(), 2*f.Float())
			}
		}
	}
	if sum.ByStatus[200] != 6 || sum.ByStatus[429] != 2 || len(sum.ByStatus) != 2 {
		t.Errorf("ByStatus = %v", sum.ByStatus)
	}
}
