package dataset

import (
	"strconv"
	"strings"
	"testing"
)

// TestProblemsYieldsRowsAsRead: Problems hands over each row's problem as
// it is read, with the row's own number, and an unusable row ends it with
// an error naming that row; a consumer that stops stops the reading.
func TestProblemsYieldsRowsAsRead(t *testing.T) {
	row := func(q string) string { return `{"question": "` + q + `", "answer": "a\n#### 1"}` }
	id := func(n int) string { return RowID(InputGSM8K, n) }
	rowsOf := func(in []string, read *int) func(fn func([]byte, int, string) error) error {
		return func(fn func([]byte, int, string) error) error {
			for i, r := range in {
				*read++
				if err := fn([]byte(r), 2*i+1, "line"); err != nil {
					return err
				}
			}
			return nil
		}
	}
	for _, c := range []struct {
		name string
		in   []string
		want []string // "<n> <id> <question>" per row
		err  string
	}{
		{"good", []string{row("q1"), row("q2")}, []string{"1 gsm8k-1 q1", "3 gsm8k-3 q2"}, ""},
		{"bad row", []string{row("q1"), "[1]", row("q3")}, []string{"1 gsm8k-1 q1"}, "line 3: gsm8k row gsm8k-3: not a JSON object"},
	} {
		var got []string
		var err error
		read := 0
		for r, e := range Problems(InputGSM8K, ImportOptions{}, rowsOf(c.in, &read), id) {
			if e != nil {
				err = e
				continue
			}
			got = append(got, strings.Join([]string{strconv.Itoa(r.N), r.Problem.ID, r.Problem.Question}, " "))
			if r.Size != len(row(r.Problem.Question)) || len(r.Problem.Solutions) != 1 || r.What != "line" {
				t.Errorf("%s: row %d: size %d, %d solutions, %q", c.name, r.N, r.Size, len(r.Problem.Solutions), r.What)
			}
		}
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("%s: rows %q, want %q", c.name, got, c.want)
		}
		if (c.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.err)
		}
	}
	read := 0
	for _, err := range Problems(InputGSM8K, ImportOptions{}, rowsOf([]string{row("q1"), "[1]", row("q3")}, &read), id) {
		if err != nil {
			t.Fatalf("error after the consumer stopped: %v", err)
		}
		break
	}
	if read != 1 {
		t.Errorf("%d rows read before the consumer stopped, want 1", read)
	}
}
