package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// The Parquet files are read back with Apache Arrow's Go implementation of
// Parquet, which shares no code with the writer (parquet-go).

// readParquet reads a Parquet file with Apache Arrow and returns its
// schema and its rows as JSON values.
func readParquet(t *testing.T, path string) (*arrow.Schema, []map[string]any) {
	t.Helper()
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatalf("arrow cannot open %s: %v", path, err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 1000}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatalf("arrow cannot read %s: %v", path, err)
	}
	defer tbl.Release()
	tr := array.NewTableReader(tbl, 1000)
	defer tr.Release()
	var buf bytes.Buffer
	for tr.Next() {
		if err := array.RecordToJSON(tr.RecordBatch(), &buf); err != nil {
			t.Fatal(err)
		}
	}
	var rows []map[string]any
	dec := json.NewDecoder(&buf)
	for dec.More() {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, m)
	}
	return tbl.Schema(), rows
}

func parquetRowGroups(t *testing.T, path string) int {
	t.Helper()
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	return pf.NumRowGroups()
}

func jsonRowsOf(t *testing.T, jsonl string) []map[string]any {
	t.Helper()
	var rows []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(jsonl), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, m)
	}
	return rows
}

// manyRecords makes n label records with soft labels, nulls among them,
// and text outside ASCII.
func manyRecords(n int) string {
	rng := rand.New(rand.NewPCG(7, 8))
	var b strings.Builder
	for i := range n {
		steps := 1 + rng.IntN(5)
		comps, labels, soft := make([]string, steps), make([]bool, steps), make([]any, steps)
		for k := range steps {
			comps[k] = fmt.Sprintf("%d × %d = %d — étape %d", i, k, i*k, k)
			labels[k] = rng.IntN(2) == 0
			if rng.IntN(3) > 0 {
				soft[k] = float64(rng.IntN(9)) / 8
			}
		}
		rec := map[string]any{"problem_id": fmt.Sprint("p", i), "solution_id": fmt.Sprint("p", i, "-0"),
			"prompt": fmt.Sprintf("Question %d: what is 7·%d? <b>", i, i), "completions": comps, "labels": labels, "soft_labels": soft}
		line, _ := json.Marshal(rec)
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.String()
}

// TestExportParquet writes every format as Parquet, reads it back with
// Apache Arrow and compares it with the JSONL export of the same records.
func TestExportParquet(t *testing.T) {
	defer func(n int64) { parquetRowGroup = n }(parquetRowGroup)
	parquetRowGroup = 400 // several row groups
	dir := t.TempDir()
	in := writeFile(t, dir, "labels.jsonl", manyRecords(1500))
	cases := []struct {
		args   []string
		schema string
	}{
		{[]string{"--format", "trl"}, "prompt: utf8 | completions: list<element: utf8> | labels: list<element: bool>"},
		{[]string{"--format", "trl", "--soft"}, "prompt: utf8 | completions: list<element: utf8> | labels: list<element: bool> | soft_labels: list<element: float64, nullable>"},
		{[]string{"--format", "math-shepherd"}, "input: utf8 | label: utf8"},
		{[]string{"--format", "math-shepherd", "--task", "MATH"}, "input: utf8 | label: utf8 | task: utf8"},
		{[]string{"--format", "openrlhf"}, "input: utf8 | value: list<element: utf8>"},
		{[]string{"--format", "openrlhf", "--soft"}, "input: utf8 | value: list<element: float64>"},
		{[]string{"--format", "chat", "--reward-tokens", "yes no"}, "messages: list<element: struct<role: utf8, content: utf8>>"},
	}
	for _, c := range cases {
		out := filepath.Join(dir, "out.parquet")
		code, _, stderr := runShepherd(t, "", append([]string{"export", "--in", in, "--out", out}, c.args...)...)
		if code != 0 || !strings.Contains(stderr, "Parquet") {
			t.Fatalf("%v: exit %d: %s", c.args, code, stderr)
		}
		code, jsonl, stderr := runShepherd(t, "", append([]string{"export", "--in", in}, c.args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", c.args, code, stderr)
		}
		schema, got := readParquet(t, out)
		if n := parquetRowGroups(t, out); n != 4 {
			t.Errorf("%v: %d row groups, want 4", c.args, n)
		}
		var fields []string
		for _, f := range schema.Fields() {
			fields = append(fields, f.Name+": "+f.Type.String())
		}
		if s := strings.Join(fields, " | "); s != c.schema {
			t.Errorf("%v: schema\n %s\nwant\n %s", c.args, s, c.schema)
		}
		want := jsonRowsOf(t, jsonl)
		if len(got) != len(want) {
			t.Fatalf("%v: %d rows read back, want %d", c.args, len(got), len(want))
		}
		for i := range want {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Fatalf("%v row %d:\n got %v\nwant %v", c.args, i, got[i], want[i])
			}
		}
	}
	// --parquet writes Parquet whatever the name, to stdout too.
	code, stdout, stderr := runShepherd(t, "", "export", "--in", in, "--format", "trl", "--parquet")
	if code != 0 || !strings.HasPrefix(stdout, "PAR1") || !strings.HasSuffix(stdout, "PAR1") {
		t.Errorf("--parquet to stdout: exit %d: %s", code, stderr)
	}
}

// TestExportParquetFromLabel: label writes Parquet directly.
func TestExportParquetFromLabel(t *testing.T) {
	dir := t.TempDir()
	in := writeFile(t, dir, "in.jsonl", twoProblems)
	out := filepath.Join(dir, "labels.parquet")
	code, _, stderr := runShepherd(t, "", "label", "--in", in, "--backend", "sim", "--n", "4", "--progress", "never", "--format", "trl", "--soft", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	_, rows := readParquet(t, out)
	if len(rows) != 3 {
		t.Fatalf("%d rows", len(rows))
	}
	for _, r := range rows {
		if len(r["completions"].([]any)) != len(r["soft_labels"].([]any)) || r["prompt"] == "" {
			t.Errorf("row %v", r)
		}
	}
	if _, err := os.Stat(out); err != nil {
		t.Fatal(err)
	}
}
