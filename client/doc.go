// Package client is the Go client of shepherd's gRPC service
// (shepherd.v1.ShepherdService): submit labeling jobs, follow their label
// records, and manage jobs.
//
//	c, err := client.Dial(ctx, "shepherd.example:7070", client.Options{Token: token, CAFile: "ca.pem"})
//	if err != nil { ... }
//	defer c.Close()
//	s := c.LabelSolutions(ctx, client.Request{Model: "Qwen/Qwen2.5-Math-7B-Instruct", Problems: problems})
//	defer s.Close()
//	for s.Next() {
//		if ev := s.Event(); ev.Record != nil {
//			use(*ev.Record) // a labeler.Record, the JSONL record of `shepherd label`
//		}
//	}
//	if err := s.Err(); err != nil { ... }
//	final := s.Job() // the job in its terminal state
//
// # Resuming
//
// A job runs on the servers independently of any client call. A label
// stream (Labels, LabelSolutions) that breaks on a transient error (the
// server restarts or is unreachable, the job store is briefly
// unavailable: gRPC UNAVAILABLE and the like) is opened again with
// exponential backoff from the cursor of the last message received, so the
// caller sees every record exactly once and in the job's order, across any
// number of reconnections. It gives up when no message arrived for
// Options.MaxOutage. A caller that stops and wants to go on later keeps
// Event.Cursor and passes it to Labels (and marks the records it holds
// with Stream.Seen).
//
// A stream also delivers each solution's record at most once: should the
// server send a solution's record again (Redis lost the tail of its
// append-only file in a crash, after the records were sent, and the
// server labelled them again), the repeat is dropped (Stream.Dropped
// counts them).
//
// LabelSolutions submits with a request id (one is generated when the
// request has none), so retrying the submission after a broken call never
// creates a second job; once the job's first message arrived the stream
// resumes with StreamLabels. Submit, Get, Cancel and List are retried the
// same way on transient errors: each of them is idempotent.
//
// # Security
//
// Without Options.Insecure the connection uses TLS: the system roots, or
// Options.CAFile / Options.TLS, and a client certificate for mutual TLS
// (CertFile and KeyFile). Options.Token is sent with every call as
// "authorization: Bearer <token>"; it is refused over a plaintext
// connection unless Insecure is set explicitly.
package client
