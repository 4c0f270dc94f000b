package main

import (
	"context"
	"errors"
	"io"
	"sync"
)

// inOrder runs work on the items next yields, parallel at once and up to
// ahead items read ahead, and hands each result to write in the order
// next yielded the items: grade and score keep their output lines in
// input order while the work runs in parallel. next ends the input with
// io.EOF; its other errors stop the run once every earlier item is
// written, and so does the first error of write or the end of ctx.
func inOrder[In, Out any](ctx context.Context, ahead, parallel int, next func() (In, error), work func(context.Context, In) Out, write func(In, Out) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	order := make(chan orderedItem[In, Out], ahead)
	var wg sync.WaitGroup
	wg.Go(func() { dispatch(ctx, &wg, order, parallel, next, work) })
	err := collect(ctx, cancel, order, write)
	wg.Wait()
	return err
}

// orderedItem is one input item in its place: its result arrives on done.
type orderedItem[In, Out any] struct {
	in   In
	err  error
	done chan Out
}

// dispatch reads the items, queues each in order and starts its work,
// parallel at once, on wg; it closes order at the end of the input, after
// an error of next (queued in its place), or at the end of ctx.
func dispatch[In, Out any](ctx context.Context, wg *sync.WaitGroup, order chan<- orderedItem[In, Out], parallel int, next func() (In, error), work func(context.Context, In) Out) {
	defer close(order)
	slots := make(chan struct{}, parallel)
	for {
		in, err := next()
		if errors.Is(err, io.EOF) {
			return
		}
		it := orderedItem[In, Out]{in: in, err: err, done: make(chan Out, 1)}
		select {
		case order <- it:
		case <-ctx.Done():
			return
		}
		if err != nil {
			return
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		wg.Go(func() {
			defer func() { <-slots }()
			it.done <- work(ctx, it.in)
		})
	}
}

// collect writes the results in order until the first error, which
// cancels the run; it drains order so that dispatch can finish.
func collect[In, Out any](ctx context.Context, cancel func(), order <-chan orderedItem[In, Out], write func(In, Out) error) error {
	var werr error
	for it := range order {
		if werr != nil {
			continue // drain so the reader can finish
		}
		if it.err != nil {
			werr = it.err
		} else {
			select {
			case out := <-it.done:
				werr = write(it.in, out)
			case <-ctx.Done():
			}
		}
		if werr == nil {
			werr = ctx.Err()
		}
		if werr != nil {
			cancel()
		}
	}
	return werr
}
