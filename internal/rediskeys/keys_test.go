package rediskeys

import (
	"slices"
	"testing"
)

// The key strings are what running deployments have in Redis: they must
// not change.
func TestKeyStrings(t *testing.T) {
	j := OfJob("abc")
	got := []string{j.Meta(), j.Input(), j.Labels(), j.Done(), j.Lease(), j.Results(), j.ResultStream(), j.Enqueued(), j.Stats()}
	want := []string{
		"shepherd:{job:abc}:meta", "shepherd:{job:abc}:input", "shepherd:{job:abc}:labels",
		"shepherd:{job:abc}:done", "shepherd:{job:abc}:lease", "shepherd:{job:abc}:results",
		"shepherd:{job:abc}:rstream", "shepherd:{job:abc}:enq", "shepherd:{job:abc}:stats",
	}
	if !slices.Equal(got, want) {
		t.Errorf("job keys = %q, want %q", got, want)
	}
	if q := j.Queue(); !slices.Equal(q, want[5:]) {
		t.Errorf("queue keys = %q, want %q", q, want[5:])
	}
	m := OfModel("sim")
	got = []string{m.Work, m.Dead, m.Workers, m.WorkOf(""), m.WorkOf("w-1")}
	want = []string{"shepherd:{model:sim}:work", "shepherd:{model:sim}:dead", "shepherd:{model:sim}:workers",
		"shepherd:{model:sim}:work", "shepherd:{model:sim}:work:w-1"}
	if !slices.Equal(got, want) {
		t.Errorf("model keys = %q, want %q", got, want)
	}
	got = []string{Request("ff"), Index(""), Index("alice"), Live, Expiry, Released}
	want = []string{"shepherd:{req:ff}", "shepherd:{jobs}:index:anonymous", "shepherd:{jobs}:index:alice",
		"shepherd:{jobs}:live", "shepherd:{jobs}:expiry", "shepherd:{jobs}:released"}
	if !slices.Equal(got, want) {
		t.Errorf("index keys = %q, want %q", got, want)
	}
	if m := ModelOfWork(OfModel("a.b").Work); m != "a.b" {
		t.Errorf("ModelOfWork = %q, want a.b", m)
	}
}
