package prmsim_test

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/shepherd-prm/shepherd/labeler"
	"github.com/shepherd-prm/shepherd/rollout/prm"
	"github.com/shepherd-prm/shepherd/rollout/prm/prmsim"
	"github.com/shepherd-prm/shepherd/rollout/sim"
)

// TestScoreSimFollowsSimulatorTruth scores sim-world solutions through the
// client in every layout: high before the first error, low from it on.
func TestScoreSimFollowsSimulatorTruth(t *testing.T) {
	ds := sim.GenerateDataset(sim.DatasetOptions{Seed: 4, Problems: 10, SolutionsPerProblem: 4, ErrorRate: 0.5})
	for _, layout := range []prm.Layout{prm.MathShepherd, prm.QwenPRM, prm.Custom("<step>", 2)} {
		t.Run(string(layout.Name), func(t *testing.T) {
			s, err := prmsim.New(prmsim.Options{Layout: layout})
			if err != nil {
				t.Fatal(err)
			}
			hs := httptest.NewServer(s)
			defer hs.Close()
			cl, err := prm.NewClient(prm.ClientOptions{BaseURL: hs.URL + "/v1", Model: prmsim.DefaultModel})
			if err != nil {
				t.Fatal(err)
			}
			checked := 0
			for _, p := range ds {
				for _, sol := range p.Solutions {
					split, err := labeler.Split(sol.Text, labeler.SplitOptions{})
					if err != nil {
						t.Fatal(err)
					}
					scores, err := cl.ScoreSteps(context.Background(), layout, p.Question, split.StepTexts())
					if err != nil {
						t.Fatal(err)
					}
					for k, sc := range scores {
						good := sol.FirstError < 0 || k < sol.FirstError
						if good != (sc >= 0.75) || sc < 0.05 || sc >= 0.95 {
							t.Fatalf("%s step %d (first error %d): score %v", sol.ID, k, sol.FirstError, sc)
						}
					}
					checked++
				}
			}
			if int(s.Requests()) != checked || int(s.Inputs()) != checked {
				t.Errorf("%d requests, %d inputs for %d solutions", s.Requests(), s.Inputs(), checked)
			}
		})
	}
}

func TestScoreSimOtherText(t *testing.T) {
	in := "What is 2+2? First add. ки\nThen report 4. ки"
	a := prmsim.StepScores(prm.MathShepherd, in)
	b := prmsim.StepScores(prm.MathShepherd, in)
	if len(a) != 2 || a[0] != b[0] || a[1] != b[1] {
		t.Fatalf("scores %v %v", a, b)
	}
	// A step's score depends on the text up to its tag only.
	c := prmsim.StepScores(prm.MathShepherd, "What is 2+2? First add. ки\nThen report 5. ки")
	if c[0] != a[0] || c[1] == a[1] {
		t.Errorf("scores %v vs %v", c, a)
	}
	rows := prmsim.Rows(prm.Custom("|", 2), "q\na|\nb|")
	if len(rows) != 2 {
		t.Fatalf("rows %v", rows)
	}
	for _, r := range rows {
		sum := 0.0
		for _, p := range r {
			sum += p
		}
		if len(r) != 3 || math.Abs(sum-1) > 1e-12 {
			t.Errorf("row %v", r)
		}
	}
	if got := prmsim.StepScores(prm.MathShepherd, "no tags"); len(got) != 0 {
		t.Errorf("untagged input scored %v", got)
	}
}

func TestScoreSimWire(t *testing.T) {
	s, err := prmsim.New(prmsim.Options{Model: "m", Layout: prm.QwenPRM})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	defer hs.Close()
	post := func(body string) (*http.Response, map[string]any) {
		t.Helper()
		resp, err := http.Post(hs.URL+"/pooling", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp, m
	}
	resp, m := post(`{"model": "m", "input": ["a<extra_0>b<extra_0>", "c<extra_0>"]}`)
	if resp.StatusCode != 200 || m["object"] != "list" || m["model"] != "m" || !strings.HasPrefix(m["id"].(string), "pool-") {
		t.Fatalf("%d %v", resp.StatusCode, m)
	}
	data := m["data"].([]any)
	if len(data) != 2 {
		t.Fatalf("data %v", data)
	}
	for i, d := range data {
		d := d.(map[string]any)
		rows := d["data"].([]any)
		if int(d["index"].(float64)) != i || d["object"] != "pooling" || len(rows) != 2-i || len(rows[0].([]any)) != 2 {
			t.Errorf("data[%d] = %v", i, d)
		}
	}
	if u := m["usage"].(map[string]any); u["prompt_tokens"].(float64) <= 0 || u["completion_tokens"].(float64) != 0 {
		t.Errorf("usage %v", u)
	}
	for _, c := range []struct {
		body   string
		status int
		msg    string
	}{
		{`{"model": "x", "input": "a"}`, 404, "The model `x` does not exist."},
		{`{"model": "m", "input": []}`, 400, `"input" must not be empty`},
		{`{"model": "m", "input": 3}`, 400, "invalid request body"},
		{`{"model": "m"`, 400, "invalid request body"},
	} {
		resp, m := post(c.body)
		msg, _ := m["error"].(map[string]any)["message"].(string)
		if resp.StatusCode != c.status || !strings.Contains(msg, c.msg) {
			t.Errorf("%s: %d %q", c.body, resp.StatusCode, msg)
		}
	}
	for path, status := range map[string]int{"/health": 200, "/v1/models": 200, "/nope": 404, "/pooling": 405} {
		resp, err := http.Get(hs.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != status {
			t.Errorf("GET %s: %d", path, resp.StatusCode)
		}
	}
	if _, err := prmsim.New(prmsim.Options{Layout: prm.Custom("", 0)}); err == nil {
		t.Error("invalid layout accepted")
	}
}

func TestScoreSimStart(t *testing.T) {
	url, stop, err := prmsim.Start(prmsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	cl, err := prm.NewClient(prm.ClientOptions{BaseURL: url, Model: prmsim.DefaultModel})
	if err != nil {
		t.Fatal(err)
	}
	sc := &prm.Scorer{PRM: cl}
	ans := "14"
	res, err := sc.Score(context.Background(), prm.ScoreInput{
		ID: "p1", Question: "Start with 4. Add 3, then multiply by 2. What is the result?", Answer: &ans,
		Candidates: []labeler.SolutionInput{
			{ID: "wrong", Text: "4 + 3 = 8.\n8 * 2 = 16.\nThe answer is 16."},
			{ID: "right", Text: "4 + 3 = 7.\n7 * 2 = 14.\nThe answer is 14."},
			{ID: "late", Text: "4 + 3 = 7.\n7 * 2 = 15.\nThe answer is 15."},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Best != 1 || !*res.BestCorrect || *res.WeightedBestAnswer != "14" || *res.MajorityAnswer != "16" {
		t.Errorf("best %d, weighted %q, majority %q, scores %v", res.Best, *res.WeightedBestAnswer, *res.MajorityAnswer, res.Scores)
	}
	stop()
	stop() // idempotent
}
