package metrics

import (
	"time"

	"github.com/shepherd-prm/shepherd/rollout"
)

// Observer returns the rollout.Observer that feeds these metrics: set it
// as rollout.PoolOptions.Observer (or ClientOptions.Observer for a bare
// client), rollout.Worker.Observer and server.Options.Observer.
func (m *Metrics) Observer() rollout.Observer { return observer{m} }

type observer struct{ m *Metrics }

var _ rollout.Observer = observer{}

func (o observer) InferenceRequest(backend, outcome string, d time.Duration) {
	backend = o.m.backend(backend)
	o.m.requests.WithLabelValues(backend, outcome).Inc()
	o.m.requestDuration.WithLabelValues(backend).Observe(d.Seconds())
}

// Tokens counts kinds that partition the tokens: the prompt splits into
// cached_prompt and uncached_prompt, so summing over kind gives prompt plus
// completion tokens, with nothing counted twice. A server reporting more
// cached tokens than prompt tokens is clamped to the prompt.
func (o observer) Tokens(backend string, prompt, completion, cached int) {
	backend = o.m.backend(backend)
	prompt = max(0, prompt)
	cached = min(max(0, cached), prompt)
	o.m.tokens.WithLabelValues(backend, "cached_prompt").Add(float64(cached))
	o.m.tokens.WithLabelValues(backend, "uncached_prompt").Add(float64(prompt - cached))
	o.m.tokens.WithLabelValues(backend, "completion").Add(float64(max(0, completion)))
}

func (o observer) Rollout(result string) { o.m.rollouts.WithLabelValues(result).Inc() }

func (o observer) TaskDone(result string, d time.Duration) {
	o.m.taskDuration.WithLabelValues(result).Observe(d.Seconds())
}

func (o observer) TaskOverhead(d time.Duration) { o.m.taskOverhead.Observe(d.Seconds()) }

func (o observer) Redelivered()  { o.m.redeliveries.Inc() }
func (o observer) LeaseLost()    { o.m.leasesLost.Inc() }
func (o observer) QueueError()   { o.m.reserveErrors.Inc() }
func (o observer) DeadLettered() { o.m.deadLettered.Inc() }

func (o observer) StepLabelled(label bool, source string) {
	o.m.steps.WithLabelValues(boolLabel(label), source).Inc()
}

func boolLabel(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
