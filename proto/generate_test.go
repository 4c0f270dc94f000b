package proto_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	shepherdv1 "github.com/shepherd-prm/shepherd/proto/shepherd/v1"
)

// repoRoot is where buf.yaml and buf.gen.yaml live; tests run in proto/.
const repoRoot = ".."

// tool is one pinned code generation tool.
type tool struct {
	bin, pkg, pinVar string
	version          string // read from generate.sh
}

var tools = []*tool{
	{bin: "buf", pkg: "github.com/bufbuild/buf/cmd/buf", pinVar: "BUF_VERSION"},
	{bin: "protoc-gen-go", pkg: "google.golang.org/protobuf/cmd/protoc-gen-go", pinVar: "PROTOC_GEN_GO_VERSION"},
	{bin: "protoc-gen-go-grpc", pkg: "google.golang.org/grpc/cmd/protoc-gen-go-grpc", pinVar: "PROTOC_GEN_GO_GRPC_VERSION"},
}

// readPins fills in every tool's version from generate.sh, the one place
// the versions are written.
func readPins(t *testing.T) {
	t.Helper()
	script, err := os.ReadFile("generate.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, tl := range tools {
		m := regexp.MustCompile(`(?m)^` + tl.pinVar + `=(v\d+\.\d+\.\d+)$`).FindSubmatch(script)
		if m == nil {
			t.Fatalf("generate.sh: no line %s=vX.Y.Z", tl.pinVar)
		}
		tl.version = string(m[1])
	}
}

// TestPinnedProtocGenGoMatchesRuntime checks that protoc-gen-go is pinned at
// the protobuf runtime version the module builds with.
func TestPinnedProtocGenGoMatchesRuntime(t *testing.T) {
	readPins(t)
	cmd := exec.Command("go", "list", "-m", "-f", "{{if .Replace}}{{.Replace.Version}}{{else}}{{.Version}}{{end}}", "google.golang.org/protobuf")
	cmd.Dir = repoRoot
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -m google.golang.org/protobuf: %v", err)
	}
	if v := strings.TrimSpace(string(out)); v != tools[1].version {
		t.Fatalf("go.mod has google.golang.org/protobuf %s but proto/generate.sh pins protoc-gen-go %s: set PROTOC_GEN_GO_VERSION=%s there, run proto/generate.sh and commit the result", v, tools[1].version, v)
	}
}

// TestGeneratedCodeUpToDate regenerates the Go code into a temporary
// directory and fails when any file differs from the committed one, or when
// a committed generated file would no longer be generated.
func TestGeneratedCodeUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("runs buf; skipped in -short mode")
	}
	readPins(t)
	path := toolPath(t)
	buf, err := lookPathIn("buf", path)
	if err != nil {
		t.Fatal(err)
	}

	run := func(args ...string) []byte {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, buf, args...)
		cmd.Dir = repoRoot
		cmd.Env = append(os.Environ(), "PATH="+path) // buf finds the plugins on it
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("buf %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
		}
		return stdout.Bytes()
	}

	run("lint")
	if out := run("format", "--diff"); len(out) > 0 {
		t.Errorf("the .proto files are not formatted; run proto/generate.sh:\n%s", out)
	}
	run("breaking", "--against", ".")

	tmp := t.TempDir()
	run("generate", "--template", "buf.gen.yaml", "-o", tmp)

	generated := map[string]bool{}
	err = filepath.WalkDir(tmp, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(tmp, p)
		if err != nil {
			return err
		}
		generated[rel] = true
		want, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		got, err := os.ReadFile(filepath.Join(repoRoot, rel))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			t.Errorf("%s is generated but not committed; run proto/generate.sh", rel)
		case err != nil:
			return err
		case !bytes.Equal(got, want):
			t.Errorf("%s differs from what the .proto files generate; run proto/generate.sh and commit the result", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(generated) == 0 {
		t.Fatal("buf generate wrote no file")
	}
	err = filepath.WalkDir(filepath.Join(repoRoot, "proto"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".pb.go") {
			return err
		}
		rel, err := filepath.Rel(repoRoot, p)
		if err != nil {
			return err
		}
		if !generated[rel] {
			t.Errorf("%s is committed but no longer generated; delete it", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// toolPath returns a PATH under which every pinned tool is found at its
// pinned version. A missing or different tool is installed with go install
// when the CI environment variable is set (into GOBIN when missing there,
// else into a temporary directory); elsewhere the test is skipped.
func toolPath(t *testing.T) string {
	t.Helper()
	gobin := goEnv(t, "GOBIN")
	if gobin == "" {
		gobin = filepath.Join(goEnv(t, "GOPATH"), "bin")
	}
	path := gobin + string(os.PathListSeparator) + os.Getenv("PATH")
	var missing []*tool
	for _, tl := range tools {
		if have := toolVersion(tl, path); have != tl.version {
			t.Logf("%s: want %s, found %q", tl.bin, tl.version, have)
			missing = append(missing, tl)
		}
	}
	if len(missing) == 0 {
		return path
	}
	if os.Getenv("CI") == "" {
		var cmds []string
		for _, tl := range missing {
			cmds = append(cmds, "go install "+tl.pkg+"@"+tl.version)
		}
		t.Skipf("code generation tools missing or at other versions (set CI=1 to install them here, or run proto/generate.sh); install with:\n  %s", strings.Join(cmds, "\n  "))
	}
	extra := t.TempDir()
	for _, tl := range missing {
		dir := gobin
		if _, err := lookPathIn(tl.bin, path); err == nil {
			dir = extra // do not replace the version someone installed
		}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		cmd := exec.CommandContext(ctx, "go", "install", tl.pkg+"@"+tl.version)
		cmd.Env = append(os.Environ(), "GOBIN="+dir)
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("go install %s@%s: %v\n%s", tl.pkg, tl.version, err, out)
		}
	}
	path = extra + string(os.PathListSeparator) + path
	for _, tl := range missing {
		if have := toolVersion(tl, path); have != tl.version {
			t.Fatalf("%s: installed %s but found %q", tl.bin, tl.version, have)
		}
	}
	return path
}

// toolVersion returns the version ("v1.2.3") a tool on path reports, or ""
// when it is not found.
func toolVersion(tl *tool, path string) string {
	p, err := lookPathIn(tl.bin, path)
	if err != nil {
		return ""
	}
	out, err := exec.Command(p, "--version").CombinedOutput()
	if err != nil {
		return ""
	}
	// buf prints "1.57.0", protoc-gen-go "protoc-gen-go v1.36.12",
	// protoc-gen-go-grpc "protoc-gen-go-grpc 1.6.2".
	f := strings.Fields(string(out))
	if len(f) == 0 {
		return ""
	}
	return "v" + strings.TrimPrefix(f[len(f)-1], "v")
}

// lookPathIn is exec.LookPath over the given PATH list.
func lookPathIn(bin, path string) (string, error) {
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, bin)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", exec.ErrNotFound
}

func goEnv(t *testing.T, key string) string {
	t.Helper()
	out, err := exec.Command("go", "env", key).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", key, err)
	}
	return strings.TrimSpace(string(out))
}

// TestDescriptors loads the generated descriptors and checks the service's
// shape: the methods, their streaming kinds and message types, and the Go
// package option.
func TestDescriptors(t *testing.T) {
	fd := shepherdv1.File_shepherd_v1_shepherd_proto
	if got := fd.Package(); got != "shepherd.v1" {
		t.Fatalf("package %q", got)
	}
	opts := fd.Options().(*descriptorpb.FileOptions)
	if got, want := opts.GetGoPackage(), "github.com/shepherd-prm/shepherd/proto/shepherd/v1;shepherdv1"; got != want {
		t.Errorf("go_package %q, want %q", got, want)
	}
	d, err := protoregistry.GlobalFiles.FindDescriptorByName("shepherd.v1.ShepherdService")
	if err != nil {
		t.Fatal(err)
	}
	svc := d.(protoreflect.ServiceDescriptor)
	want := map[string]struct{ serverStreaming bool }{
		"SubmitJob":      {false},
		"GetJob":         {false},
		"CancelJob":      {false},
		"ListJobs":       {false},
		"StreamLabels":   {true},
		"LabelSolutions": {true},
		"Score":          {false},
	}
	var got []string
	for i := 0; i < svc.Methods().Len(); i++ {
		m := svc.Methods().Get(i)
		name := string(m.Name())
		got = append(got, name)
		w, ok := want[name]
		if !ok {
			t.Errorf("unexpected method %s", name)
			continue
		}
		if m.IsStreamingClient() {
			t.Errorf("%s: client streaming", name)
		}
		if m.IsStreamingServer() != w.serverStreaming {
			t.Errorf("%s: server streaming %v, want %v", name, m.IsStreamingServer(), w.serverStreaming)
		}
		if in, out := string(m.Input().Name()), string(m.Output().Name()); in != name+"Request" || out != name+"Response" {
			t.Errorf("%s(%s) returns (%s)", name, in, out)
		}
	}
	if len(got) != len(want) {
		sort.Strings(got)
		t.Errorf("methods %v, want %d", got, len(want))
	}

	// The gRPC service description agrees with the descriptor.
	sd := shepherdv1.ShepherdService_ServiceDesc
	if sd.ServiceName != "shepherd.v1.ShepherdService" {
		t.Errorf("ServiceName %q", sd.ServiceName)
	}
	if n := len(sd.Methods) + len(sd.Streams); n != len(want) {
		t.Errorf("ServiceDesc has %d methods, want %d", n, len(want))
	}
	for _, s := range sd.Streams {
		if !want[s.StreamName].serverStreaming || !s.ServerStreams || s.ClientStreams {
			t.Errorf("stream %s: server %v client %v", s.StreamName, s.ServerStreams, s.ClientStreams)
		}
	}
	if shepherdv1.ShepherdService_StreamLabels_FullMethodName != "/shepherd.v1.ShepherdService/StreamLabels" {
		t.Errorf("full method name %q", shepherdv1.ShepherdService_StreamLabels_FullMethodName)
	}

	// LabelSolutionsRequest is SubmitJobRequest on the wire.
	sub := (&shepherdv1.SubmitJobRequest{}).ProtoReflect().Descriptor().Fields()
	ls := (&shepherdv1.LabelSolutionsRequest{}).ProtoReflect().Descriptor().Fields()
	if sub.Len() != ls.Len() {
		t.Fatalf("SubmitJobRequest has %d fields, LabelSolutionsRequest %d", sub.Len(), ls.Len())
	}
	for i := 0; i < sub.Len(); i++ {
		a, b := sub.Get(i), ls.ByNumber(sub.Get(i).Number())
		if b == nil || a.Name() != b.Name() || a.Kind() != b.Kind() || a.Cardinality() != b.Cardinality() {
			t.Errorf("field %s differs between SubmitJobRequest and LabelSolutionsRequest", a.Name())
		}
	}
}

// TestLabelRecordRoundTrip checks that a record keeps its absent soft labels
// and min score through the binary and JSON encodings.
func TestLabelRecordRoundTrip(t *testing.T) {
	half, zero := 0.5, 0.0
	rec := &shepherdv1.LabelRecord{
		ProblemId:       "p1",
		SolutionId:      "p1-0",
		Prompt:          "1+1?",
		Completions:     []string{"1+1=2.", "The answer is 2."},
		Labels:          []bool{true, true},
		SoftLabels:      []*shepherdv1.SoftLabel{{}, {Value: &half}},
		Rollouts:        []int32{0, 8},
		CorrectRollouts: []int32{0, 4},
		FirstErrorStep:  -1,
		MinScore:        &zero,
		OutcomeCorrect:  true,
		Strategy:        shepherdv1.Strategy_STRATEGY_BINARY,
		Model:           "m",
		GraderVersion:   "g1",
	}
	for _, enc := range []struct {
		name      string
		marshal   func(proto.Message) ([]byte, error)
		unmarshal func([]byte, proto.Message) error
	}{
		{"binary", proto.Marshal, proto.Unmarshal},
		{"JSON", protojson.Marshal, protojson.Unmarshal},
	} {
		b, err := enc.marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		var back shepherdv1.LabelRecord
		if err := enc.unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(rec, &back) {
			t.Fatalf("%s round trip: %v != %v (encoded %q)", enc.name, &back, rec, b)
		}
		if back.SoftLabels[0].Value != nil || back.GetSoftLabels()[1].GetValue() != 0.5 || back.MinScore == nil || *back.MinScore != 0 {
			t.Errorf("%s: presence lost: %v", enc.name, &back)
		}
	}
}
