// Package server is shepherd's gRPC service (shepherd.v1.ShepherdService):
// durable labeling jobs over a shared Redis, with any number of server and
// worker processes.
//
// # Using it
//
// A `serve` command needs only this:
//
//	tlsConf, _ := server.TLSConfig(certFile, keyFile, clientCAFile) // optional
//	tokens, _ := server.LoadTokens(tokenFile)                      // optional
//	q := redisq.New(rdb, redisq.Options{...})                      // the work queue, shared with the workers
//	s, err := server.New(server.Options{Redis: rdb, WorkQueue: q, Tokens: tokens, TLS: tlsConf})
//	lis, _ := net.Listen("tcp", addr)
//	err = s.Serve(ctx, lis) // until ctx ends; then a graceful shutdown
//
// To serve on a grpc.Server of one's own: build it with
// grpc.NewServer(s.GRPCServerOptions(tlsConf)...), call s.Register(g) and
// s.Start(), serve, and call s.Shutdown(timeout) to stop (it stops g too).
// Start is required: it runs the lease heartbeats without which another
// server would adopt this server's jobs.
//
// The work queue between the job schedulers and the workers is
// Options.WorkQueue, a Queue: the scheduler's operations (Open) and the
// admin ones the server needs (Pending for admission, Stats and Enqueued
// for a job's counts, ForgetJob for expiry). It is required, and the
// server names no implementation: the caller chooses one (`shepherd
// serve` the Redis Streams queue, rollout/redisq, in cmd/shepherd's
// newQueue). Another queue is a package implementing Queue and
// rollout.Queue, set in Options.WorkQueue.
//
// Workers are rollout.Worker values on the same queue (a redisq.Queue
// with the same Redis and consumer group), pulling the models jobs name
// (Options.Models restricts those to the ones the workers serve). Scoring with a reward model is
// served by Options.Scorer; without one such a Score answers
// UNIMPLEMENTED. Score in Monte-Carlo mode is always served: its rollouts
// are tasks on the workers' queue like a labeling job's, under SubmitJob's
// model check, limits and admission, and the call's results are deleted
// when it returns (a call cancelled midway leaves its queued tasks to be
// worked off).
//
// # Jobs
//
// SubmitJob validates the whole request and splits every solution into
// steps (labeler.SolutionInput.Split), once, before anything is stored
// (prepare, jobstore_input.go), then stores
// the job: its metadata (state, effective spec, counts, times, error,
// request id, owner) and its input (the split problems) under the job's
// hash tag, a request-id key for idempotency (the same request id with a
// different request, compared by a digest, is ALREADY_EXISTS), an entry in
// the caller's job index and in the live set. See internal/rediskeys for
// the key layout and scripts.go for the Lua scripts.
//
// Each live job is scheduled by one server at a time, the holder of its
// lease (SET NX PX with an owner token, renewed by a heartbeat with an
// owner check, released with an owner check). The scheduler is
// rollout.RunJob over the work queue: its source replays the stored input
// and skips the solutions already in the job's done set, and each record
// is committed by one script that checks the done set, appends the record
// to the job's labels stream and adds the solution to the done set, so a
// record is written once even when a restarted scheduler labels a
// solution again. Every server looks for live jobs without a lease when it
// starts and every AdoptInterval, so the jobs of a server that stopped
// (which releases its leases) resume at once, and those of one that
// crashed once its leases expire.
//
// # States
//
//	QUEUED ──start──▶ RUNNING ──every record committed──▶ SUCCEEDED, or PARTIAL if steps failed
//	QUEUED, RUNNING ──scheduler error RunAttempts times──▶ FAILED
//	QUEUED, RUNNING ──CancelJob──▶ CANCELLED
//
// Terminal states never change; a record is only committed while the job
// is live. A stopping server leaves its jobs RUNNING for the next one.
// Counters (tasks, rollouts, tokens) come from the queue's per-job
// counters, exact across restarts, written at most every ProgressInterval;
// solutions_done is bumped by the commit script. Finished jobs expire after
// JobTTL.
//
// # Streams
//
// StreamLabels reads the labels stream from a cursor (the stream entry id,
// with a digest of the job id so that another job's cursor is refused):
// XREAD BLOCK while the job is live, interleaved with coalesced job
// snapshots, and once a terminal state has been read and the stream is
// drained, the terminal snapshot, then OK. Records are committed in one
// order, so a client resuming from its last cursor gets each record once.
// LabelSolutions is SubmitJob followed by the same stream.
//
// # Access, limits, health
//
// Interceptors run recovery (a panic is INTERNAL), observation (logs and
// Options.OnRPC), authentication (bearer tokens compared in constant time;
// health, and reflection if Options.ReflectionWithoutAuth, exempt) and
// validation (INVALID_ARGUMENT naming the field and the limit). Requests
// are bounded by Options.MaxMessageBytes, and admission control refuses
// new jobs with RESOURCE_EXHAUSTED while the model's work stream holds
// MaxQueuedTasks tasks. A token identifies a caller: its jobs and request
// ids are its own, and other callers' jobs are NOT_FOUND. The standard
// health service reports SERVING until Shutdown, and server reflection is
// registered.
package server
