package rollout

import (
	"time"

	"github.com/shepherd-prm/shepherd/labeler"
)

// Observer sees what the rollout components do, for metrics. Every method
// must be safe for concurrent use and return quickly. Label-like string
// arguments come from small fixed sets, so they can be metric label values;
// backend is a configured base URL.
//
// Clients, pools, workers and jobs take an Observer in their options; nil
// means NopObserver. Package server/metrics implements it over Prometheus.
type Observer interface {
	// InferenceRequest reports one HTTP attempt against backend: outcome
	// is the HTTP status code ("200", "429", …) or the transport failure
	// ("timeout", "unreachable", "conn_error", "bad_response", "canceled"),
	// the keys of BackendStats.Attempts.
	InferenceRequest(backend, outcome string, d time.Duration)
	// Tokens reports the usage of one successful attempt: prompt tokens,
	// completion tokens, and the prompt tokens served from the backend's
	// prefix cache.
	Tokens(backend string, prompt, completion, cached int)
	// Rollout reports one graded sample: RolloutCorrect, RolloutIncorrect,
	// RolloutNoAnswer or RolloutTruncated.
	Rollout(result string)
	// TaskDone reports a task a worker has finished with, and how long it
	// took from delivery to the queue's acknowledgement: TaskCompleted,
	// TaskRetried (handed back) or TaskFailed (permanent error).
	TaskDone(result string, d time.Duration)
	// Redelivered reports a task delivered again (a retry or a reclaimed
	// lease).
	Redelivered()
	// LeaseLost reports a task whose lease another worker took over while
	// this one was running it.
	LeaseLost()
	// QueueError reports a failed attempt to reserve tasks.
	QueueError()
	// DeadLettered reports a task that failed for good, as its job's
	// scheduler learns it (once per task).
	DeadLettered()
	// TaskOverhead reports the queueing overhead of a completed task, as
	// its job's scheduler sees it (once per task): the time from enqueueing
	// the task to receiving its result, minus the worker's generation and
	// grading time (TaskResult.WorkSeconds). That is the wait in the queue,
	// the Redis round trips and the result's delivery.
	TaskOverhead(d time.Duration)
	// StepLabelled reports one labelled step: its hard label and how it was
	// reached (SourceMeasured, SourceInferred or SourceOutcome).
	StepLabelled(label bool, source string)
}

// Values of Observer arguments.
const (
	RolloutCorrect   = "correct"   // the sample reaches the gold answer
	RolloutIncorrect = "incorrect" // it reaches another answer
	RolloutNoAnswer  = "no_answer" // no final answer could be extracted
	RolloutTruncated = "truncated" // cut off by max_tokens: counted incorrect

	TaskCompleted = "completed"
	TaskRetried   = "retried"
	TaskFailed    = "failed"

	SourceMeasured = "measured" // counted from rollouts
	SourceInferred = "inferred" // deduced by the strategy
	SourceOutcome  = "outcome"  // the whole solution: its own graded outcome
)

// sourceNames are the Observer names of the labeler's label sources.
var sourceNames = [...]string{
	labeler.Inferred: SourceInferred,
	labeler.Measured: SourceMeasured,
	labeler.Outcome:  SourceOutcome,
}

// NopObserver ignores everything.
type NopObserver struct{}

func (NopObserver) InferenceRequest(string, string, time.Duration) {}
func (NopObserver) Tokens(string, int, int, int)                   {}
func (NopObserver) Rollout(string)                                 {}
func (NopObserver) TaskDone(string, time.Duration)                 {}
func (NopObserver) Redelivered()                                   {}
func (NopObserver) LeaseLost()                                     {}
func (NopObserver) QueueError()                                    {}
func (NopObserver) DeadLettered()                                  {}
func (NopObserver) TaskOverhead(time.Duration)                     {}
func (NopObserver) StepLabelled(bool, string)                      {}

// observerOr returns o, or NopObserver if o is nil.
func observerOr(o Observer) Observer {
	if o == nil {
		return NopObserver{}
	}
	return o
}

// RolloutResult classifies a graded sample for Observer.Rollout.
func RolloutResult(s SampleResult) string {
	switch {
	case s.FinishReason == "length":
		return RolloutTruncated
	case s.Correct:
		return RolloutCorrect
	case !s.Found:
		return RolloutNoAnswer
	}
	return RolloutIncorrect
}

// ObserveRecord reports every step of a labelled solution's record to o
// (failed steps, which have no label, are skipped). Callers report a record
// once, when it is committed.
func ObserveRecord(o Observer, r labeler.Record) {
	if o == nil {
		return
	}
	failed := make(map[int]bool, len(r.FailedSteps))
	for _, i := range r.FailedSteps {
		failed[i] = true
	}
	for i, hard := range r.Labels {
		if failed[i] {
			continue
		}
		o.StepLabelled(hard, sourceNames[r.Source(i)])
	}
}

// observeAttempt reports one attempt and, when it succeeded, its tokens.
func observeAttempt(obs Observer, o attemptOutcome, res GenerateResult, d time.Duration) {
	obs.InferenceRequest(o.backend, o.label(), d)
	if o.kind == outcomeOK {
		obs.Tokens(o.backend, res.PromptTokens, res.CompletionTokens, res.CachedTokens)
	}
}
