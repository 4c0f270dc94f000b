package integration

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	shepherdv1 "github.com/shepherd-prm/shepherd/proto/shepherd/v1"
	"github.com/shepherd-prm/shepherd/rollout/redisq/redistest"
)

// TestUnauthenticatedLargeRequestsHoldNoMemory: with tokens configured, 8
// parallel 60 MB SubmitJob calls without a token are refused from their
// headers, before their messages are read: serve's peak resident memory
// grows by less than 50 MB (it would grow by 8 x 60 MB, and more to decode
// them, if the token were checked after the message was read).
func TestUnauthenticatedLargeRequestsHoldNoMemory(t *testing.T) {
	rs := redistest.Start(t)
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	serve, addr := startServe(t, "serve", "127.0.0.1:0", redisURL(rs.Addr), "--tokens-file", tokens)
	pid := serve.Cmd.Process.Pid

	const size = 60 << 20
	req := &shepherdv1.SubmitJobRequest{RequestId: "big", Model: "sim"}
	for i := range 60 {
		req.Problems = append(req.Problems, &shepherdv1.Problem{Id: strconv.Itoa(i), Question: strings.Repeat("x", size/60), Answer: "1"})
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(size+(1<<20))))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	api := shepherdv1.NewShepherdServiceClient(conn)
	// A first refused call sets up the connection and the server's
	// per-connection buffers, which are not what is measured.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := api.GetJob(ctx, &shepherdv1.GetJobRequest{JobId: "x"}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("GetJob without a token: %v, want UNAUTHENTICATED", err)
	}
	rssBefore := memKB(t, pid, "VmRSS")

	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = api.SubmitJob(ctx, req)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if status.Code(err) != codes.Unauthenticated {
			t.Errorf("call %d: %v, want UNAUTHENTICATED", i, err)
		}
	}
	time.Sleep(500 * time.Millisecond) // let in-flight frames land
	peak, after := memKB(t, pid, "VmHWM"), memKB(t, pid, "VmRSS")
	t.Logf("serve: VmRSS %d kB before, %d kB after, VmHWM %d kB", rssBefore, after, peak)
	if grew := peak - rssBefore; grew >= 50<<10 {
		t.Errorf("serve's peak RSS grew by %d MB (from %d kB to %d kB), want < 50 MB", grew>>10, rssBefore, peak)
	}
	serve.stop(10 * time.Second)
}
