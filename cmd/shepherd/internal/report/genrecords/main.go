// Command genrecords writes synthetic label records, shaped like the output
// of shepherd label on the simulator (question, 3–12 steps of text, labels,
// soft labels, rollouts, completion tokens, a few failed steps with null
// labels), for the
// report's scale benchmark (BENCHMARKS.md).
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"

	"github.com/shepherd-prm/shepherd/labeler"
	"github.com/shepherd-prm/shepherd/labeler/grade"
)

func main() {
	n := flag.Int("n", 1000000, "records to write")
	out := flag.String("out", "-", "output file (- for stdout)")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	f := os.Stdout
	if *out != "-" {
		var err error
		if f, err = os.Create(*out); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	w := bufio.NewWriterSize(f, 1<<20)
	enc := json.NewEncoder(w)
	rng := rand.New(rand.NewPCG(*seed, 0))
	const rollouts = 8
	for i := range *n {
		steps := 3 + rng.IntN(10)
		fe := -1
		if rng.Float64() < 0.55 {
			fe = rng.IntN(steps)
		}
		r := labeler.Record{
			ProblemID:     fmt.Sprintf("gen-%07d", i/4),
			SolutionID:    fmt.Sprintf("gen-%07d-%d", i/4, i%4),
			Prompt:        "Start with 5. Subtract 4, add 13, subtract 1, add 17, multiply by 5, then multiply by 5. What is the result?",
			Strategy:      []labeler.Strategy{labeler.Exhaustive, labeler.Binary}[i%2],
			Model:         []string{"sim", "sim-large"}[(i/2)%2],
			GraderVersion: grade.Version,
		}
		minScore := 1.0
		for s := range steps {
			r.Completions = append(r.Completions, fmt.Sprintf("Next, %d + %d = %d.", s*7, s+3, s*8+3))
			if rng.Float64() < 0.002 {
				r.Labels = append(r.Labels, false) // written as null: a failed step
				r.SoftLabels = append(r.SoftLabels, nil)
				r.Rollouts = append(r.Rollouts, 0)
				r.CorrectRollout = append(r.CorrectRollout, 0)
				r.FailedSteps = append(r.FailedSteps, s)
				continue
			}
			ok := fe < 0 || s < fe
			correct := 0
			if ok {
				correct = 1 + rng.IntN(rollouts)
			}
			soft := float64(correct) / rollouts
			minScore = min(minScore, soft)
			r.Labels = append(r.Labels, ok)
			r.SoftLabels = append(r.SoftLabels, &soft)
			r.Rollouts = append(r.Rollouts, rollouts)
			r.CorrectRollout = append(r.CorrectRollout, correct)
		}
		// Some 16 tokens a rollout, as on the simulator; one solution in
		// ten is served by rollouts another one paid for.
		if rng.Float64() >= 0.1 {
			for _, n := range r.Rollouts {
				r.CompletionTokens += int64(n * (8 + rng.IntN(17)))
			}
		}
		r.FirstErrorStep = fe
		r.MinScore = &minScore
		r.OutcomeCorrect = fe < 0
		if err := enc.Encode(r); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := f.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
