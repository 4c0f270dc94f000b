package sim

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

const q16 = "Start with 16. Subtract 3, add 7, then multiply by 3. What is the result?"

func TestSimQuestionGrammar(t *testing.T) {
	for _, tc := range []struct {
		text string
		gold int64
	}{
		{q16, 60},
		{"Start with 5. Add 2. What is the result?", 7},
		{"Start with 5. Multiply by 4, then subtract 30. What is the result?", -10},
		{"Question: Start with 1. Add 1. What is the result?\nAnswer: junk\nQuestion: " + q16 + "\nAnswer:", 60},
	} {
		got, err := GoldAnswer(tc.text)
		if err != nil || got != tc.gold {
			t.Errorf("GoldAnswer(%q) = %d, %v; want %d", tc.text, got, err, tc.gold)
		}
	}
	for _, bad := range []string{
		"What is 2 + 2?",
		"Start with 5. Divide by 2. What is the result?",
		"Start with 5. Multiply by 1. What is the result?",
		"Start with 5. Add 0. What is the result?",
	} {
		if _, err := GoldAnswer(bad); err == nil {
			t.Errorf("GoldAnswer(%q) accepted a question outside the grammar", bad)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		c := randomChain(rng, 1+rng.IntN(8))
		back, _, err := findQuestion(c.question())
		if err != nil || back.gold() != c.gold() || len(back.ops) != len(c.ops) {
			t.Fatalf("question %q does not parse back: %v", c.question(), err)
		}
	}
}

func TestSimFirstError(t *testing.T) {
	for _, tc := range []struct {
		name, sol string
		want      int
	}{
		{"correct", "16 - 3 = 13.\n13 + 7 = 20.\n20 * 3 = 60.\nThe answer is 60.", -1},
		{"correct with labels and blank lines", "Step 1: 16 - 3 = 13.\n\nStep 2: 13 + 7 = 20.\n20 × 3 = 60.\nThe answer is 60", -1},
		{"incomplete", "16 - 3 = 13.\n13 + 7 = 20.\n", -1},
		{"arithmetic", "16 - 3 = 12.\n12 + 7 = 19.\n19 * 3 = 57.\nThe answer is 57.", 0},
		{"wrong operand", "16 - 3 = 13.\n13 + 8 = 21.\n21 * 3 = 63.\nThe answer is 63.", 1},
		{"wrong operation", "16 - 3 = 13.\n13 - 7 = 6.\n6 * 3 = 18.\nThe answer is 18.", 1},
		{"does not continue", "16 - 3 = 13.\n14 + 7 = 21.\n21 * 3 = 63.\nThe answer is 63.", 1},
		{"wrong answer", "16 - 3 = 13.\n13 + 7 = 20.\n20 * 3 = 60.\nThe answer is 61.", 3},
		{"early answer", "16 - 3 = 13.\nThe answer is 13.", 1},
		{"extra step", "16 - 3 = 13.\n13 + 7 = 20.\n20 * 3 = 60.\n60 + 1 = 61.\nThe answer is 61.", 3},
		{"after the answer", "16 - 3 = 13.\n13 + 7 = 20.\n20 * 3 = 60.\nThe answer is 60.\n60 + 1 = 61.", 4},
		{"junk line", "16 - 3 = 13.\nLet me think.\n13 + 7 = 20.", 1},
	} {
		got, err := FirstError(q16, tc.sol)
		if err != nil || got != tc.want {
			t.Errorf("%s: FirstError = %d, %v; want %d", tc.name, got, err, tc.want)
		}
	}
	if _, err := FirstError("no question", "1 + 1 = 2."); err == nil {
		t.Error("FirstError accepted text without a question")
	}
}

func TestSimSuccessProbability(t *testing.T) {
	const q = 0.8
	for _, tc := range []struct {
		prefix string
		want   float64
	}{
		{"", math.Pow(q, 3)},
		{"16 - 3 = 13.\n", math.Pow(q, 2)},
		{"16 - 3 = 13.\n13 + 7 = 20.\n", q},
		{"16 - 3 = 13.\n13 + 7 = 20.\n20 * 3 = 60.\n", 1},
		{"16 - 3 = 13.\n13 + 7 = 20.\n20 * 3 = 60.\nThe answer is 60.", 1},
		{"16 - 3 = 12.\n", 0},
		{"16 - 3 = 13.\n13 + 7 = 20.\n20 * 3 = 60.\nThe answer is 6.", 0},
	} {
		got, err := SuccessProbability(q16, tc.prefix, q)
		if err != nil || math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("SuccessProbability(%q) = %v, %v; want %v", tc.prefix, got, err, tc.want)
		}
	}
	if _, err := SuccessProbability(q16, "", 1.5); err == nil {
		t.Error("SuccessProbability accepted q = 1.5")
	}
}

// An erroneous prefix never reaches the gold answer, even when its wrong
// line wrote the correct value.
func TestSimErroneousPrefixNeverRecovers(t *testing.T) {
	c, _, _ := findQuestion(q16)
	for _, prefix := range []string{
		"16 - 3 = 12.\n",
		"16 + -3 = 13.\n",      // wrong operation and operand, right value
		"16 - 3 = 13.\nHmm.\n", // junk line, value still right
		"16 - 3 = 13.\n13 + 7 = 20.\n20 * 3 = 60.\n60 * 1 = 60.\n", // extra step
		"16 - 3 = 13.\n13 + 7 = 20.\n20 * 3 = 60.\nThe answer is 60.\nThe answer is 60.",
	} {
		st := c.walk(splitLines(prefix))
		if !st.tainted() {
			t.Fatalf("prefix %q: no error found", prefix)
		}
		for seed := range uint64(50) {
			smp := sampling{q: 1, phrasings: MaxPhrasings, rng: rand.New(rand.NewPCG(seed, 0)), style: rand.New(rand.NewPCG(seed, 1))}
			lines := c.continuation(st, smp)
			if ans := parseLine(lines[len(lines)-1]); ans.kind != 'a' || ans.c == c.gold() {
				t.Fatalf("prefix %q: continuation %q reaches the gold answer", prefix, lines)
			}
		}
	}
}

func TestSimDatasetGroundTruth(t *testing.T) {
	ps := GenerateDataset(DatasetOptions{Seed: 7, Problems: 300, SolutionsPerProblem: 4, MinOps: 1, MaxOps: 7, ErrorRate: 0.5})
	if len(ps) != 300 {
		t.Fatalf("%d problems, want 300", len(ps))
	}
	errs, total := 0, 0
	for _, p := range ps {
		for _, s := range p.Solutions {
			total++
			got, err := FirstError(p.Question, s.Text)
			if err != nil || got != s.FirstError {
				t.Fatalf("%s: FirstError = %d, %v; injected %d\n%s\n%s", s.ID, got, err, s.FirstError, p.Question, s.Text)
			}
			lines := strings.Split(s.Text, "\n")
			final := parseLine(lines[len(lines)-1])
			correct := final.kind == 'a' && p.Answer == itoa(final.c)
			if correct != (s.FirstError < 0) {
				t.Fatalf("%s: final answer correct = %v with first error %d", s.ID, correct, s.FirstError)
			}
			if s.FirstError >= 0 {
				errs++
			}
		}
	}
	if share := float64(errs) / float64(total); share < 0.43 || share > 0.57 {
		t.Errorf("share of solutions with an error = %.3f, want about 0.5", share)
	}
	again := GenerateDataset(DatasetOptions{Seed: 7, Problems: 300, SolutionsPerProblem: 4, MinOps: 1, MaxOps: 7, ErrorRate: 0.5})
	if again[299].Solutions[3].Text != ps[299].Solutions[3].Text || again[0].Question != ps[0].Question {
		t.Error("the same options gave a different dataset")
	}
}

func itoa(v int64) string { return formatAnswer(v)[len("The answer is ") : len(formatAnswer(v))-1] }

// A greedy continuation from any prefix of a correct solution written in
// phrasing 0 reproduces the rest of the solution byte for byte; from a
// prefix of a solution in several phrasings it reproduces the rest's
// equations, in phrasing 0.
func TestSimGreedyContinuationMatchesSolution(t *testing.T) {
	for _, k := range []int{1, 4} {
		ps := GenerateDataset(DatasetOptions{Seed: 3, Problems: 20, SolutionsPerProblem: 1, Phrasings: k})
		for _, p := range ps {
			sol := p.Solutions[0].Text
			cut := 0
			for {
				prompt := "Question: " + p.Question + "\nAnswer: " + sol[:cut]
				c, st, lead, err := analyzePrompt(prompt, false)
				if err != nil {
					t.Fatal(err)
				}
				got := lead + strings.Join(c.continuation(st, sampling{q: 0.5, greedy: true, phrasings: k}), "\n")
				want := sol[cut:]
				if k > 1 {
					want = canonical(want)
					if got != canonical(got) {
						t.Fatalf("prompt %q: greedy continuation %q is not in phrasing 0", prompt, got)
					}
				}
				if got != want {
					t.Fatalf("prompt %q: continuation %q, want %q", prompt, got, want)
				}
				nl := strings.IndexByte(sol[cut:], '\n')
				if nl < 0 {
					break
				}
				cut += nl + 1
			}
		}
	}
}

func TestSimLead(t *testing.T) {
	for text, want := range map[string]string{
		q16:                             "\n",
		q16 + "\n":                      "",
		q16 + "\nAnswer:":               " ",
		q16 + "\nAnswer: ":              "",
		q16 + "\n16 - 3 = 13.":          "\n",
		q16 + "\n16 - 3 = 13.\n":        "",
		q16 + "\n16 - 3 = 13.\nStep 2:": " ",
	} {
		if _, _, got, _ := analyzePrompt(text, false); got != want {
			t.Errorf("lead after %q = %q, want %q", text, got, want)
		}
	}
}

func TestSimTokenize(t *testing.T) {
	for s, want := range map[string][]string{
		"16 - 3 = 13.\n":          {"16", " -", " 3", " =", " 13", ".", "\n"},
		"The answer is 60.":       {"The", " answer", " is", " 60", "."},
		"<|im_start|>user\nhi<|x": {"<|im_start|>", "user", "\nhi", "<", "|", "x"},
		"":                        nil,
		"  ":                      {"  "},
		"héllo wörld":             {"héllo", " wörld"},
	} {
		got := tokenize(s)
		if strings.Join(got, "") != s || len(got) != len(want) {
			t.Errorf("tokenize(%q) = %q, want %q", s, got, want)
			continue
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("tokenize(%q) = %q, want %q", s, got, want)
				break
			}
		}
	}
}

func TestSimFinish(t *testing.T) {
	text := "16 - 3 = 13.\n13 + 7 = 20.\nThe answer is 20." // 17 tokens
	n := countTokens(text)
	for _, tc := range []struct {
		stops       []string
		limit       int
		out, reason string
		stopReason  any
		ntok        int
	}{
		{nil, 0, text, "stop", nil, n + 1},
		{nil, n + 1, text, "stop", nil, n + 1},
		{nil, n, text, "length", nil, n},
		{nil, 3, "16 - 3", "length", nil, 3},
		{[]string{"\n"}, 0, "16 - 3 = 13.", "stop", "\n", 7},
		{[]string{"answer", "+"}, 0, "16 - 3 = 13.\n13 ", "stop", "+", 8},
		{[]string{"13.\n13"}, 0, "16 - 3 = ", "stop", "13.\n13", 7},
		{[]string{"\n"}, 3, "16 - 3", "length", nil, 3},
	} {
		out, reason, sr, ntok := finish(text, tc.stops, tc.limit)
		if out != tc.out || reason != tc.reason || sr != tc.stopReason || ntok != tc.ntok {
			t.Errorf("finish(stop %q, limit %d) = %q, %s, %v, %d; want %q, %s, %v, %d", tc.stops, tc.limit, out, reason, sr, ntok, tc.out, tc.reason, tc.stopReason, tc.ntok)
		}
	}
}

func TestSimPrefixCache(t *testing.T) {
	p := newPrefixCache(4, 100)
	toks := tokenize(strings.Repeat("a b c d ", 5)) // 21 tokens (the last is " ")
	if got := p.lookup(toks); got != 0 {
		t.Fatalf("first lookup cached %d", got)
	}
	if got := p.lookup(toks); got != 20 {
		t.Fatalf("second lookup cached %d, want 20", got)
	}
	if got := p.lookup(toks[:20]); got != 16 {
		t.Fatalf("a prompt of exactly 5 blocks cached %d, want 16 (the last token is always computed)", got)
	}
	other := append(append([]string{}, toks[:8]...), tokenize("x y z w v u t s r")...)
	if got := p.lookup(other); got != 8 {
		t.Fatalf("a prompt sharing 2 blocks cached %d, want 8", got)
	}
	small := newPrefixCache(4, 3)
	small.lookup(toks)
	if got := small.lookup(toks); got != 12 {
		t.Fatalf("a 3-block cache cached %d, want 12", got)
	}
}
