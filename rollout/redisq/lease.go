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
	byStream := map[string][]rollout.Task{}
	for _, t := range tasks {
		if t.Receipt == "" {
			lost = append(lost, t) // never delivered by this queue
			continue
		}
		if err := checkName("model", t.Model); err != nil {
			lost = append(lost, t)
			continue
		}
		key, _ := streamOf(t)
		if _, ok := byStream[key]; !ok {
			order = append(order, key)
		}
		byStream[key] = append(byStream[key], t)
	}
	for _, key := range order {
		ts := byStream[key]
		l, e := q.extend(ctx, key, ts)
		if e != nil {
			err = fmt.Errorf("extend leases in %s: %w", key, e)
			continue
		}
		lost = append(lost, l...)
	}
	return lost, err
}

// extend extends the leases of tasks delivered from one work stream.
func (q *Queue) extend(ctx context.Context, key string, tasks []rollout.Task) ([]rollout.Task, error) {
	args := make([]any, 0, 2+len(tasks))
	args = append(args, q.opt.Group, q.opt.Consumer)
	for _, t := range tasks {
		_, id := splitReceipt(t.Receipt)
		args = append(args, id)
	}
	ids, err := extendScript.Run(ctx, q.rdb, []string{key}, args...).StringSlice()
	if err != nil {
		return nil, err
	}
	gone := make(map[string]bool, len(ids))
	for _, id := range ids {
		gone[id] = true
	}
	var lost []rollout.Task
	for _, t := range tasks {
		if _, id := splitReceipt(t.Receipt); gone[id] {
			lost = append(lost, t)
		}
	}
	return lost, nil
}

// owns extends one task's lease and reports whether this consumer still
// holds it.
func (q *Queue) owns(ctx context.Context, t rollout.Task) (bool, error) {
	if err := checkName("model", t.Model); err != nil {
		return false, err
	}
	key, _ := streamOf(t)
	lost, err := q.extend(ctx, key, []rollout.Task{t})
	return err == nil && len(lost) == 0, err
}
