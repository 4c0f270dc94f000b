package dataset

import (
	"context"
	"strconv"
	"strings"
	"testing"
)

// TestProblemsYieldsRowsInPlace: Problems hands over each row's problem
// with the row's own number, in JSONL (blank lines counted) and in a JSON
// array, and an unusable row ends it with an error naming that row.
func TestProblemsYieldsRowsInPlace(t *testing.T) {
	row := func(q string) string { return `{"question": "` + q + `", "answer": "a\n#### 1"}` }
	id := func(n int) string { return RowID(InputGSM8K, n) }
	for _, c := range []struct {
		name, in string
		want     []string // "<what> <n> <id> <question>" per row
		err      string
	}{
		{"jsonl", "\n" + row("q1") + "\n\n" + row("q2") + "\n", []string{"line 2 gsm8k-2 q1", "line 4 gsm8k-4 q2"}, ""},
		{"array", " [" + row("q1") + ", " + row("q2") + "]", []string{"element 1 gsm8k-1 q1", "element 2 gsm8k-2 q2"}, ""},
		{"bad row", row("q1") + "\n[1]\n" + row("q3") + "\n", []string{"line 1 gsm8k-1 q1"}, "line 2: gsm8k row gsm8k-2: not a JSON object"},
		{"open array", "[" + row("q1"), []string{"element 1 gsm8k-1 q1"}, "not closed"},
	} {
		var got []string
		var err error
		for r, e := range Problems(context.Background(), strings.NewReader(c.in), InputGSM8K, ImportOptions{}, id) {
			if e != nil {
				err = e
				continue
			}
			got = append(got, strings.Join([]string{r.What, strconv.Itoa(r.N), r.Problem.ID, r.Problem.Question}, " "))
			if r.Size == 0 || len(r.Problem.Solutions) != 1 {
				t.Errorf("%s: row %d: size %d, %d solutions", c.name, r.N, r.Size, len(r.Problem.Solutions))
			}
		}
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("%s: rows %q, want %q", c.name, got, c.want)
		}
		if (c.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.err)
		}
	}
	// A consumer that stops early stops the reading, without an error.
	n := 0
	for _, err := range Problems(context.Background(), strings.NewReader(row("q1")+"\n[1]\n"), InputGSM8K, ImportOptions{}, id) {
		if err != nil {
			t.Fatalf("error after the consumer stopped: %v", err)
		}
		n++
		break
	}
	if n != 1 {
		t.Errorf("%d rows before stopping", n)
	}
}
