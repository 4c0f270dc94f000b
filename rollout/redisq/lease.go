package redisq

import (
	"context"
	"fmt"
	"time"

	"github.com/shepherd-prm/shepherd/rollout"
)

// LeaseTTL implements rollout.Leaser.
func (q *Queue) LeaseTTL() time.Duration { return q.opt.LeaseTTL }

// Extend implements rollout.Leaser: for every task this consumer still owns
// (the pending entry's consumer is this one), one script per model resets
// the entry's idle time, so XAUTOCLAIM leaves it alone for another
// LeaseTTL. Tasks whose entry another consumer reclaimed, or that are no
// longer pending, are reported lost.
func (q *Queue) Extend(ctx context.Context, tasks []rollout.Task) (lost []rollout.Task, err error) {
	var order []string
	byModel := map[string][]rollout.Task{}
	for _, t := range tasks {
		if t.Receipt == "" {
			lost = append(lost, t) // never delivered by this queue
			continue
		}
		if _, ok := byModel[t.Model]; !ok {
			order = append(order, t.Model)
		}
		byModel[t.Model] = append(byModel[t.Model], t)
	}
	for _, model := range order {
		ts := byModel[model]
		l, e := q.extend(ctx, model, ts)
		if e != nil {
			err = fmt.Errorf("extend leases for model %s: %w", model, e)
			continue
		}
		lost = append(lost, l...)
	}
	return lost, err
}

func (q *Queue) extend(ctx context.Context, model string, tasks []rollout.Task) ([]rollout.Task, error) {
	if err := checkName("model", model); err != nil {
		return nil, err
	}
	args := make([]any, 0, 2+len(tasks))
	args = append(args, q.opt.Group, q.opt.Consumer)
	for _, t := range tasks {
		args = append(args, t.Receipt)
	}
	ids, err := extendScript.Run(ctx, q.rdb, []string{keysOfModel(model).work}, args...).StringSlice()
	if err != nil {
		return nil, err
	}
	gone := make(map[string]bool, len(ids))
	for _, id := range ids {
		gone[id] = true
	}
	var lost []rollout.Task
	for _, t := range tasks {
		if gone[t.Receipt] {
			lost = append(lost, t)
		}
	}
	return lost, nil
}

// owns extends one task's lease and reports whether this consumer still
// holds it.
func (q *Queue) owns(ctx context.Context, t rollout.Task) (bool, error) {
	lost, err := q.extend(ctx, t.Model, []rollout.Task{t})
	return err == nil && len(lost) == 0, err
}
