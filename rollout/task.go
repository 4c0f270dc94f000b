package rollout

import "errors"

// Task asks a worker for the samples with indices [From, From+N) of one
// step prefix. Sample i is drawn with seed Seed+i, so a task is a pure
// function of its fields: a redelivered task asks the server for the same
// samples, and its results may be written twice without harm.
type Task struct {
	ID       string         `json:"id"` // unique within the job
	JobID    string         `json:"job"`
	Model    string         `json:"model"`
	Question string         `json:"question"`
	Prefix   string         `json:"prefix"`
	Gold     string         `json:"gold"`
	From     int            `json:"from"`
	N        int            `json:"n"`
	Seed     int64          `json:"seed"` // seed of sample 0 of this prefix
	Params   SamplingParams `json:"params"`
	RouteKey string         `json:"route,omitempty"`
	// Deliveries counts how often the queue has handed the task out,
	// this delivery included.
	Deliveries int `json:"-"`
	// Receipt is the queue's handle of this delivery (a stream entry id).
	Receipt string `json:"-"`
}

// SampleResult is one graded continuation.
type SampleResult struct {
	Text         string `json:"text"`
	FinishReason string `json:"finish"`
	Answer       string `json:"answer,omitempty"`
	Found        bool   `json:"found"`
	Correct      bool   `json:"correct"`
}

// TaskResult is what a worker reports for a task: its graded samples, or
// that it failed for good (dead-lettered) with the reason.
type TaskResult struct {
	TaskID           string         `json:"task"`
	JobID            string         `json:"job"`
	Samples          []SampleResult `json:"samples,omitempty"`
	PromptTokens     int            `json:"prompt_tokens"`
	CompletionTokens int            `json:"completion_tokens"`
	CachedTokens     int            `json:"cached_tokens"`
	Backend          string         `json:"backend,omitempty"`
	Failed           bool           `json:"failed,omitempty"`
	Error            string         `json:"error,omitempty"`
	// WorkSeconds is how long the worker spent generating and grading the
	// samples, on its own clock; the scheduler subtracts it from the
	// task's round trip to get its queueing overhead.
	WorkSeconds float64 `json:"work_s,omitempty"`
}

// ErrClosed is returned by a queue that has been closed.
var ErrClosed = errors.New("queue closed")
