package simtest_test

import (
	"context"
	"io"
	"testing"

	"github.com/shepherd-prm/shepherd/labeler"
	"github.com/shepherd-prm/shepherd/rollout"
	"github.com/shepherd-prm/shepherd/rollout/sim"
	"github.com/shepherd-prm/shepherd/rollout/sim/simtest"
)

func TestSourceLeavesItsInputAlone(t *testing.T) {
	sols := simtest.Dataset(1, 2, 2)
	if len(sols) != 4 {
		t.Fatalf("%d solutions, want 4", len(sols))
	}
	src := simtest.Source(sols)
	for i := range sols {
		got, err := src.Next()
		if err != nil || got.SolutionID != sols[i].SolutionID {
			t.Fatalf("solution %d: %s, %v; want %s", i, got.SolutionID, err, sols[i].SolutionID)
		}
	}
	if _, err := src.Next(); err != io.EOF {
		t.Fatalf("after the last solution: %v, want io.EOF", err)
	}
	if len(simtest.Dataset(1, 2, 2)) != len(sols) || sols[0].SolutionID == "" {
		t.Error("the source consumed its input")
	}
}

func TestLabelOnPool(t *testing.T) {
	sols := simtest.Dataset(2, 3, 2)
	recs, stats := simtest.Label(context.Background(), t, simtest.Pool(t, sim.Options{}), sols,
		rollout.JobOptions{ID: "j", Model: simtest.Model, Strategy: labeler.Exhaustive, N: 2, Seed: 1})
	if len(recs) != len(sols) || stats.Samples == 0 {
		t.Fatalf("%d records for %d solutions, stats %+v", len(recs), len(sols), stats)
	}
}
