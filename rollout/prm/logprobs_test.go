package prm_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/shepherd-prm/shepherd/rollout/prm"
	"github.com/shepherd-prm/shepherd/rollout/prm/prmsim"
)

// stepPieces are step texts that hold the step tag's characters
// (Cyrillic к and и), the label tokens' characters (+ and -) and
// multi-byte text, alone and mixed.
var stepPieces = []string{
	"3 + 4 = 7.", "10 - 3 = 7.", "к и", "кони и книга", "и к", "½ of 14 is 7.", "数学: 2 × 3 = 6",
	"🙂 +-+-", "Step 1: x - y + z", "ик", "к+и-", "Привет, мир", "a", "√49 = 7 —done",
}

func randomSteps(rng *rand.Rand, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = stepPieces[rng.IntN(len(stepPieces))]
		if rng.IntN(2) == 0 {
			out[i] += " " + stepPieces[rng.IntN(len(stepPieces))]
		}
	}
	return out
}

// TestScoreLogprobsEqualSoftmaxAtTags scores candidates of 1 to 40 steps
// through a server speaking vLLM's /tokenize and prompt-logprobs format
// and checks every step score against the softmax of the simulated
// model's good and bad logits at the step's tag, with the labels among the
// top tokens and buried below them (then asked for on their own).
func TestScoreLogprobsEqualSoftmaxAtTags(t *testing.T) {
	layouts := []prm.Layout{prm.MathShepherd, prm.CustomTokens("<step>", 32001, 32002, 32003)}
	for _, layout := range layouts {
		for _, buried := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/buried=%v", layout.Name, buried), func(t *testing.T) {
				s, err := prmsim.New(prmsim.Options{Model: "prm", Layout: layout, BuryLabels: buried})
				if err != nil {
					t.Fatal(err)
				}
				hs := httptest.NewServer(s)
				defer hs.Close()
				cl := newClient(t, hs.URL, prm.ClientOptions{Model: "prm"})
				rng := rand.New(rand.NewPCG(7, uint64(len(layout.StepTag))))
				question := "Что такое 3 + 4? (½ × 14)"
				checked, candidates := 0, 0
				for n := 1; n <= 40; n++ {
					if buried && n%7 != 1 && n != 40 {
						continue // each missing label costs a request: fewer candidates
					}
					candidates++
					steps := randomSteps(rng, n)
					got, err := cl.ScoreSteps(context.Background(), layout, question, steps)
					if err != nil {
						t.Fatalf("%d steps: %v", n, err)
					}
					input, err := layout.Render(question, steps)
					if err != nil {
						t.Fatal(err)
					}
					want := prmsim.StepScores(layout, input)
					if len(got) != n || len(want) != n {
						t.Fatalf("%d steps: got %d scores, simulator has %d", n, len(got), len(want))
					}
					for k := range got {
						if math.Abs(got[k]-want[k]) > 1e-6 {
							t.Fatalf("%d steps, step %d (%q): score %v, softmax at the tag %v", n, k, steps[k], got[k], want[k])
						}
						checked++
					}
				}
				if !buried && checked != 40*41/2 {
					t.Errorf("checked %d steps", checked)
				}
				// Buried labels cost one request per missing label: at
				// least one per step (the last tag's good token is the
				// prompt's own).
				if buried && s.Requests() < int64(candidates+checked) {
					t.Errorf("%d requests for %d steps with buried labels", s.Requests(), checked)
				}
				if !buried && s.Requests() != 40 {
					t.Errorf("%d requests for 40 candidates", s.Requests())
				}
			})
		}
	}
}

// TestScoreLogprobsWire pins the request bodies the client sends and
// decodes a response written as vLLM writes it (string token-id keys, a
// null first entry, rank and decoded_token).
func TestScoreLogprobsWire(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	var paths []string
	// BOS What ? 1 ки \n 2 ки: the tags are at positions 4 and 7.
	const tokenizeResp = `{"count":8,"max_model_len":4096,"tokens":[1,1824,28804,28740,12902,13,28750,12902],"token_strs":null}`
	// Entry 5 is the distribution after the first tag (the prompt's own
	// token 13, "\n", plus the top 3); entry 8 after the second, whose
	// own token is the appended 648 ("+").
	const completionResp = `{"id":"cmpl-9d2","object":"text_completion","created":1733480000,"model":"peiyi9979/math-shepherd-mistral-7b-prm",
	"choices":[{"index":0,"text":"+","logprobs":null,"finish_reason":"length","stop_reason":null,"prompt_logprobs":[
	null,
	{"1824":{"logprob":-7.1,"rank":88,"decoded_token":"What"}},
	{"28804":{"logprob":-0.9,"rank":1,"decoded_token":"?"}},
	{"28740":{"logprob":-2.5,"rank":4,"decoded_token":"1"}},
	{"12902":{"logprob":-11.2,"rank":3021,"decoded_token":"ки"},"28705":{"logprob":-0.3,"rank":1,"decoded_token":" "}},
	{"13":{"logprob":-9.5,"rank":12,"decoded_token":"\n"},"648":{"logprob":-0.2231435513142097,"rank":1,"decoded_token":"+"},"387":{"logprob":-1.6094379124341003,"rank":2,"decoded_token":"-"},"28705":{"logprob":-6.0,"rank":3,"decoded_token":" "}},
	{"28750":{"logprob":-2.0,"rank":2,"decoded_token":"2"}},
	{"12902":{"logprob":-0.1,"rank":1,"decoded_token":"ки"}},
	{"387":{"logprob":-0.05,"rank":1,"decoded_token":"-"},"648":{"logprob":-3.5,"rank":2,"decoded_token":"+"},"13":{"logprob":-5.0,"rank":3,"decoded_token":"\n"}}]}],
	"usage":{"prompt_tokens":9,"total_tokens":10,"completion_tokens":1}}`
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/tokenize":
			_, _ = io.WriteString(w, tokenizeResp)
		case "/v1/completions":
			_, _ = io.WriteString(w, completionResp)
		default:
			w.WriteHeader(404)
			_, _ = io.WriteString(w, `{"detail":"Not Found"}`)
		}
	}))
	defer hs.Close()
	cl := newClient(t, hs.URL+"/v1", prm.ClientOptions{Model: "peiyi9979/math-shepherd-mistral-7b-prm"})
	got, err := cl.ScoreSteps(context.Background(), prm.MathShepherd, "What?", []string{"1", "2"})
	if err != nil {
		t.Fatal(err)
	}
	wantBodies := []string{
		`{"model":"peiyi9979/math-shepherd-mistral-7b-prm","prompt":"What? 1 ки\n2 ки","add_special_tokens":true}`,
		`{"model":"peiyi9979/math-shepherd-mistral-7b-prm","prompt":[1,1824,28804,28740,12902,13,28750,12902,648],"max_tokens":1,"temperature":0,"prompt_logprobs":5}`,
	}
	if strings.Join(paths, " ") != "/tokenize /v1/completions" {
		t.Fatalf("paths %v", paths)
	}
	for i, want := range wantBodies {
		if mustCanon(t, bodies[i]) != mustCanon(t, want) {
			t.Errorf("request %d\n got %s\nwant %s", i, bodies[i], want)
		}
	}
	want := []float64{0.8 / (0.8 + 0.2), math.Exp(-3.5) / (math.Exp(-3.5) + math.Exp(-0.05))}
	for k := range want {
		if math.Abs(got[k]-want[k]) > 1e-9 {
			t.Errorf("step %d: %v, want %v", k, got[k], want[k])
		}
	}
}

func mustCanon(t *testing.T, s string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// TestScoreRefusesMathShepherdOverPooling checks both halves of the
// refusal: a reward-runner server's STEP pooling answers probabilities
// unrelated to the model's step scores (the simulator imitates it), and
// asking for that combination is refused with a message naming the
// endpoint to use; a generative-only layout sent to a pooling-only server
// says how to serve the model.
func TestScoreRefusesMathShepherdOverPooling(t *testing.T) {
	err := prm.CheckAPI(prm.MathShepherd, "pooling")
	if err == nil || !strings.Contains(err.Error(), "--prm-api completions") || !strings.Contains(err.Error(), "16545") {
		t.Fatalf("CheckAPI(math-shepherd, pooling) = %v", err)
	}
	for _, c := range []struct {
		l   prm.Layout
		api string
	}{{prm.MathShepherd, ""}, {prm.MathShepherd, "auto"}, {prm.MathShepherd, "completions"}, {prm.QwenPRM, "pooling"}, {prm.Custom("<s>", 1), "pooling"}} {
		if err := prm.CheckAPI(c.l, c.api); err != nil {
			t.Errorf("CheckAPI(%s, %q) = %v", c.l, c.api, err)
		}
	}
	if err := prm.CheckAPI(prm.QwenPRM, "completions"); err == nil || !strings.Contains(err.Error(), "--runner pooling") {
		t.Errorf("CheckAPI(qwen-prm, completions) = %v", err)
	}

	s, err := prmsim.New(prmsim.Options{Model: "prm"})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	defer hs.Close()
	cl := newClient(t, hs.URL, prm.ClientOptions{Model: "prm"})
	steps := []string{"3 + 4 = 7.", "7 - 2 = 5.", "So 5."}
	input, _ := prm.MathShepherd.Render("q", steps)
	rows, err := cl.Pool(context.Background(), []string{input})
	if err != nil {
		t.Fatal(err)
	}
	truth, err := cl.ScoreSteps(context.Background(), prm.MathShepherd, "q", steps)
	if err != nil {
		t.Fatal(err)
	}
	for k, row := range rows[0] {
		if row[0] < 0 || row[0] > 1 || math.Abs(row[0]-truth[k]) < 1e-3 {
			t.Errorf("step %d: pooled %v against the softmax at the tag %v: the reward runner's numbers should be plausible and wrong", k, row, truth[k])
		}
	}

	qs, err := prmsim.New(prmsim.Options{Model: "prm", Layout: prm.QwenPRM})
	if err != nil {
		t.Fatal(err)
	}
	qhs := httptest.NewServer(qs)
	defer qhs.Close()
	_, err = newClient(t, qhs.URL, prm.ClientOptions{Model: "prm"}).ScoreSteps(context.Background(), prm.MathShepherd, "q", steps)
	if err == nil || !prm.IsPermanent(err) || !strings.Contains(err.Error(), "without --runner pooling") {
		t.Errorf("math-shepherd against a pooling-only server: %v", err)
	}
}
