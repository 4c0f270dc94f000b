package servertest

import (
	"encoding/json"
	"regexp"
	"testing"

	"github.com/shepherd-prm/shepherd/labeler"
)

// RecordJSON is r as a label record line (json.Marshal's encoding), the
// form in which tests compare records.
func RecordJSON(t testing.TB, r labeler.Record) string {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// WithoutTokens is a record line without its completion_tokens: which
// solution pays for a shared prefix depends on admission and restarts (a
// prefix dropped once no admitted solution holds it is generated again for
// a later one), so runs scheduled differently compare labels, not tokens.
func WithoutTokens(line string) string { return tokensRE.ReplaceAllString(line, "") }

var tokensRE = regexp.MustCompile(`"completion_tokens":\d+,`)

// SameRecords checks that got holds the records of want (record lines by
// solution) and no others, each line passed through norm first (nil:
// compared as is).
func SameRecords(t testing.TB, got, want map[string]string, norm func(string) string) {
	t.Helper()
	if norm == nil {
		norm = func(s string) string { return s }
	}
	if len(got) != len(want) {
		t.Errorf("got %d records, want %d", len(got), len(want))
	}
	for k, w := range want {
		if g, ok := got[k]; !ok {
			t.Errorf("record %s missing", k)
		} else if norm(g) != norm(w) {
			t.Errorf("record %s differs:\n got  %s\n want %s", k, g, w)
		}
	}
}
