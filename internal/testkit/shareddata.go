package testkit

import (
	"os"
	"path/filepath"
	"testing"
)

// SharedData returns the path of a file in the reference data set kept in
// ../shared/data beside the checkout (or in $SHEPHERD_DATA). Outside CI a
// missing data set skips the test; in CI it fails it, so the data tests can
// never silently stop running.
func SharedData(t testing.TB, rel string) string {
	t.Helper()
	dir := os.Getenv("SHEPHERD_DATA")
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		for d := wd; ; d = filepath.Dir(d) {
			cand := filepath.Join(d, "shared", "data")
			if st, err := os.Stat(cand); err == nil && st.IsDir() {
				dir = cand
				break
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	p := filepath.Join(dir, rel)
	if _, err := os.Stat(p); dir == "" || err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("reference data %s not found (set SHEPHERD_DATA or keep shared/ beside the checkout)", rel)
		}
		t.Skipf("reference data %s not found", rel)
	}
	return p
}
