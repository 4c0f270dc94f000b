package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shepherd-prm/shepherd/internal/testkit"
	"github.com/shepherd-prm/shepherd/rollout/openai"
	"github.com/shepherd-prm/shepherd/rollout/sim"
)

func simRunCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}, args)
	return code, out.String(), errb.String()
}

func TestSimGen(t *testing.T) {
	file := filepath.Join(t.TempDir(), "p.jsonl")
	code, _, stderr := simRunCmd(t, "sim", "gen", "--problems", "12", "--solutions", "3", "--seed", "5", "--out", file)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &raw); err != nil || len(raw) != 4 || raw["id"] == nil || raw["question"] == nil || raw["answer"] == nil || raw["solutions"] == nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		var p sim.Problem
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil || len(p.Solutions) != 3 {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if gold, err := sim.GoldAnswer(p.Question); err != nil || p.Answer != strconv.FormatInt(gold, 10) {
			t.Fatalf("problem %s: answer %q, gold %d, %v", p.ID, p.Answer, gold, err)
		}
		for _, s := range p.Solutions {
			if _, err := sim.FirstError(p.Question, s.Text); err != nil {
				t.Fatal(err)
			}
		}
		n++
	}
	if n != 12 {
		t.Fatalf("%d problems, want 12", n)
	}
	code, stdout, _ := simRunCmd(t, "sim", "gen", "--problems", "12", "--solutions", "3", "--seed", "5")
	if code != 0 || stdout != string(data) {
		t.Fatalf("stdout output differs from the file (exit %d)", code)
	}
	for _, bad := range [][]string{
		{"--problems", "0"}, {"--error-rate", "1.5"}, {"--min-ops", "5", "--max-ops", "4"}, {"--solutions", "-1"}, {"extra"},
		{"--phrasings", "0"}, {"--phrasings", strconv.Itoa(sim.MaxPhrasings + 1)},
	} {
		if code, _, _ := simRunCmd(t, append([]string{"sim", "gen"}, bad...)...); code != 2 {
			t.Errorf("sim gen %q: exit %d, want 2", bad, code)
		}
	}
}

// --phrasings changes the wording of the steps, not the questions or the
// errors: with 1 every step is a bare equation.
func TestSimGenPhrasings(t *testing.T) {
	gen := func(k string) []sim.Problem {
		code, stdout, stderr := simRunCmd(t, "sim", "gen", "--problems", "20", "--solutions", "4", "--seed", "3", "--phrasings", k)
		if code != 0 {
			t.Fatalf("--phrasings %s: exit %d: %s", k, code, stderr)
		}
		var ps []sim.Problem
		dec := json.NewDecoder(strings.NewReader(stdout))
		for dec.More() {
			var p sim.Problem
			if err := dec.Decode(&p); err != nil {
				t.Fatal(err)
			}
			ps = append(ps, p)
		}
		return ps
	}
	bare := regexp.MustCompile(`^(-?\d+ [-+*] -?\d+ = -?\d+\.|The answer is -?\d+\.)$`)
	one, many := gen("1"), gen(strconv.Itoa(sim.MaxPhrasings))
	differ := 0
	for i, p := range one {
		if many[i].Question != p.Question {
			t.Fatalf("%s: question depends on --phrasings", p.ID)
		}
		for j, s := range p.Solutions {
			for _, l := range strings.Split(s.Text, "\n") {
				if !bare.MatchString(l) {
					t.Fatalf("%s: --phrasings 1 wrote %q", s.ID, l)
				}
			}
			e1, _ := sim.FirstError(p.Question, s.Text)
			ek, _ := sim.FirstError(p.Question, many[i].Solutions[j].Text)
			if e1 != ek {
				t.Fatalf("%s: first error %d with one phrasing, %d with %d", s.ID, e1, ek, sim.MaxPhrasings)
			}
			if s.Text != many[i].Solutions[j].Text {
				differ++
			}
		}
	}
	if differ < 60 {
		t.Errorf("only %d of 80 solutions differ between --phrasings 1 and %d", differ, sim.MaxPhrasings)
	}
}

// The bundled example file is exactly what its documented command writes.
func TestSimExampleFileUpToDate(t *testing.T) {
	want, err := os.ReadFile(filepath.Join("..", "..", "examples", "sim-problems.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	code, got, stderr := simRunCmd(t, "sim", "gen", "--problems", "40", "--solutions", "4", "--seed", "1", "--min-ops", "3", "--max-ops", "6", "--error-rate", "0.5")
	if code != 0 || got != string(want) {
		t.Fatalf("examples/sim-problems.jsonl is not the output of `shepherd sim gen --problems 40 --solutions 4 --seed 1` (exit %d %s); regenerate it", code, stderr)
	}
	if len(want) > 100<<10 {
		t.Errorf("example file is %d bytes", len(want))
	}
}

func TestSimServe(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr testkit.LockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, env{stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: &stderr},
			[]string{"sim", "--listen", "127.0.0.1:0", "--model", "m", "--step-accuracy", "0.7", "--phrasings", "6", "--fail-first", "1", "--fault-hang", "0", "--hang-for", "1s"})
	}()
	re := regexp.MustCompile(`http://127\.0\.0\.1:\d+/v1`)
	var base string
	for deadline := time.Now().Add(5 * time.Second); base == ""; {
		if time.Now().After(deadline) {
			t.Fatalf("no URL on stderr: %q", stderr.String())
		}
		select {
		case code := <-done:
			t.Fatalf("exited %d early: %s", code, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		base = re.FindString(stderr.String())
	}
	body, _ := json.Marshal(openai.CompletionRequest{Model: "m", Prompt: "Start with 4. Add 3, then multiply by 2. What is the result?\n", Sampling: openai.Sampling{Temperature: new(float64)}})
	post := func() *http.Response {
		resp, err := http.Post(base+"/completions", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if resp := post(); resp.StatusCode != 500 {
		t.Fatalf("--fail-first 1: first status %d", resp.StatusCode)
	}
	resp := post()
	defer resp.Body.Close()
	var r openai.Response
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || resp.StatusCode != 200 || r.Choices[0].Text != "4 + 3 = 7.\n7 * 2 = 14.\nThe answer is 14." {
		t.Fatalf("status %d, %+v, %v", resp.StatusCode, r, err)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("did not stop after cancel")
	}
	if !strings.Contains(stderr.String(), "(step accuracy 0.7, 6 phrasings)") || !strings.Contains(stderr.String(), "2 requests (200: 1, 500: 1)") {
		t.Errorf("stderr %q", stderr.String())
	}
	for _, bad := range [][]string{{"--step-accuracy", "0"}, {"--fault-500", "0.7", "--fault-429", "0.7"}, {"--block-size", "0"}, {"--fail-status", "200"}, {"--phrasings", "0"}, {"--phrasings", strconv.Itoa(sim.MaxPhrasings + 1)}} {
		if code, _, _ := simRunCmd(t, append([]string{"sim", "--listen", "127.0.0.1:0"}, bad...)...); code != 2 {
			t.Errorf("sim %q: exit %d, want 2", bad, code)
		}
	}
}
