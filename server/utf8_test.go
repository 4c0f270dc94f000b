package server

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	shepherdv1 "github.com/shepherd-prm/shepherd/proto/shepherd/v1"
)

// rawCodec sends pre-encoded bytes as they are: the protobuf encoder
// refuses to write invalid UTF-8, which a client in another language (or
// a broken one) may send.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return v.([]byte), nil }
func (rawCodec) Unmarshal(b []byte, v any) error {
	return proto.Unmarshal(b, v.(proto.Message))
}
func (rawCodec) Name() string { return "proto" }

// TestInvalidUTF8 sends requests whose string fields hold invalid UTF-8:
// each gets INVALID_ARGUMENT naming the field (not INTERNAL), from
// SubmitJob and LabelSolutions alike.
func TestInvalidUTF8(t *testing.T) {
	h := newHarness(t)
	ts := h.startServer(Options{})
	ctx := testCtx(t)
	const mark = "\x01MARK\x01" // replaced by as many invalid bytes
	for _, tc := range []struct {
		edit  func(r *shepherdv1.SubmitJobRequest)
		field string
	}{
		{func(r *shepherdv1.SubmitJobRequest) { r.RequestId = mark }, "request_id"},
		{func(r *shepherdv1.SubmitJobRequest) { r.Model = mark }, "model"},
		{func(r *shepherdv1.SubmitJobRequest) { r.Problems[1].Question += mark }, "problems[1].question"},
		{func(r *shepherdv1.SubmitJobRequest) { r.Problems[0].Answer = mark }, "problems[0].answer"},
		{func(r *shepherdv1.SubmitJobRequest) { r.Problems[1].Id = mark }, "problems[1].id"},
		{func(r *shepherdv1.SubmitJobRequest) { r.Problems[1].Solutions[1].Id = mark }, "problems[1].solutions[1].id"},
		{func(r *shepherdv1.SubmitJobRequest) {
			r.Problems[0].Solutions[1].Body = &shepherdv1.Solution_Text{Text: "2 + 3 = 5." + mark}
		}, "problems[0].solutions[1].text"},
		{func(r *shepherdv1.SubmitJobRequest) {
			r.Problems[1].Solutions[0].Body = &shepherdv1.Solution_Steps{Steps: &shepherdv1.Steps{Steps: []string{"a", mark}}}
		}, "problems[1].solutions[0].steps.steps[1]"},
		{func(r *shepherdv1.SubmitJobRequest) { r.Spec = &shepherdv1.JobSpec{Stop: []string{"x", mark}} }, "spec.stop[1]"},
		{func(r *shepherdv1.SubmitJobRequest) { r.Spec = &shepherdv1.JobSpec{SplitTag: mark} }, "spec.split_tag"},
	} {
		t.Run(tc.field, func(t *testing.T) {
			r := submitReq("utf8", nil, nil)
			for i := range 2 {
				r.Problems = append(r.Problems, &shepherdv1.Problem{Id: fmt.Sprint("q", i), Question: "Start with 2. Add 3. What is the result?", Answer: "5",
					Solutions: []*shepherdv1.Solution{{Body: &shepherdv1.Solution_Text{Text: "2 + 3 = 5.\nThe answer is 5."}}, {Body: &shepherdv1.Solution_Text{Text: "2 + 3 = 6."}}}})
			}
			tc.edit(r)
			bad := func(m proto.Message) []byte {
				b, err := proto.Marshal(m)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Contains(b, []byte(mark)) {
					t.Fatal("mark not encoded")
				}
				return bytes.ReplaceAll(b, []byte(mark), []byte(strings.Repeat("\xff", len(mark))))
			}
			var resp shepherdv1.SubmitJobResponse
			err := ts.conn.Invoke(ctx, shepherdv1.ShepherdService_SubmitJob_FullMethodName, bad(r), &resp, grpc.ForceCodec(rawCodec{}))
			wantCode(t, err, "INVALID_ARGUMENT", tc.field+": not valid UTF-8")

			ls := &shepherdv1.LabelSolutionsRequest{RequestId: r.RequestId, Model: r.Model, Spec: r.Spec, Problems: r.Problems}
			sctx, cancel := context.WithCancel(ctx)
			defer cancel()
			st, err := ts.conn.NewStream(sctx, &shepherdv1.ShepherdService_ServiceDesc.Streams[1], shepherdv1.ShepherdService_LabelSolutions_FullMethodName, grpc.ForceCodec(rawCodec{}))
			if err != nil {
				t.Fatal(err)
			}
			if err := st.SendMsg(bad(ls)); err != nil {
				t.Fatal(err)
			}
			_ = st.CloseSend()
			err = st.RecvMsg(&shepherdv1.LabelSolutionsResponse{})
			wantCode(t, err, "INVALID_ARGUMENT", tc.field+": not valid UTF-8")
		})
	}
	if n := countMap(&badUTF8); n != 0 {
		t.Errorf("%d requests left noted as invalid", n)
	}
}

func countMap(m interface{ Range(func(k, v any) bool) }) int {
	n := 0
	m.Range(func(any, any) bool { n++; return true })
	return n
}
