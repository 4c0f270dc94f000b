package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestSummarize(t *testing.T) {
	in := `{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"output","Package":"p","Test":"TestA","Output":"=== RUN   TestA\n"}
{"Action":"output","Package":"p","Test":"TestA","Output":"    x_test.go:3: reference data gsm8k/test.jsonl not found\n"}
{"Action":"output","Package":"p","Test":"TestA","Output":"--- SKIP: TestA (0.00s)\n"}
{"Action":"skip","Package":"p","Test":"TestA"}
{"Action":"output","Package":"p","Test":"TestB","Output":"    x_test.go:9: reference data math/test.jsonl not found\n"}
{"Action":"skip","Package":"p","Test":"TestB"}
{"Action":"output","Package":"p","Test":"TestC","Output":"    y_test.go:1: redis-server is not installed\n"}
{"Action":"skip","Package":"p","Test":"TestC"}
{"Action":"output","Package":"p","Test":"TestD","Output":"    z_test.go:1: got 1, want 2\n"}
{"Action":"output","Package":"p","Test":"TestD","Output":"--- FAIL: TestD (0.00s)\n"}
{"Action":"fail","Package":"p","Test":"TestD"}
{"Action":"output","Package":"p","Test":"TestE","Output":"    noise\n"}
{"Action":"pass","Package":"p","Test":"TestE"}
{"Action":"output","Package":"p","Output":"FAIL\n"}
{"Action":"output","Package":"p","Output":"FAIL\tp\t0.01s\n"}
{"Action":"fail","Package":"p"}
`
	var out bytes.Buffer
	failed, skips, err := summarize(strings.NewReader(in), &out)
	if err != nil {
		t.Fatal(err)
	}
	if !failed {
		t.Error("a failed test was not reported as failed")
	}
	want := "    z_test.go:1: got 1, want 2\n--- FAIL: TestD (0.00s)\nFAIL\tp\t0.01s\n"
	if out.String() != want {
		t.Errorf("output:\n%q\nwant:\n%q", out.String(), want)
	}
	if len(skips) != 2 || skips["redis-server is not installed"] != 1 {
		t.Errorf("skips %v", skips)
	}
	for r, n := range skips {
		if strings.HasPrefix(r, "reference data not found") && n != 2 {
			t.Errorf("reference data skips: %d, want 2", n)
		}
	}
}

func TestSummarizeNoTests(t *testing.T) {
	if _, _, err := summarize(strings.NewReader(`{"Action":"output","Package":"p","Output":"ok p\n"}`+"\n"), &bytes.Buffer{}); err == nil {
		t.Error("no error for a run without tests")
	}
}

// TestSummarizeUnfinishedTest: a package that dies with a test still
// running (a timeout's panic) shows that test's output, stacks included.
func TestSummarizeUnfinishedTest(t *testing.T) {
	in := `{"Action":"run","Package":"p","Test":"TestOK"}
{"Action":"pass","Package":"p","Test":"TestOK"}
{"Action":"run","Package":"p","Test":"TestHang"}
{"Action":"output","Package":"p","Test":"TestHang","Output":"panic: test timed out after 1s\n"}
{"Action":"output","Package":"p","Test":"TestHang","Output":"goroutine 7 [chan receive]:\n"}
{"Action":"output","Package":"p","Output":"FAIL\tp\t1.01s\n"}
{"Action":"fail","Package":"p"}
`
	var out bytes.Buffer
	failed, _, err := summarize(strings.NewReader(in), &out)
	if err != nil || !failed {
		t.Fatalf("failed %v, err %v", failed, err)
	}
	if want := "FAIL\tp\t1.01s\npanic: test timed out after 1s\ngoroutine 7 [chan receive]:\n"; out.String() != want {
		t.Errorf("output:\n%q\nwant:\n%q", out.String(), want)
	}
}
