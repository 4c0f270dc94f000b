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
	type item struct {
		in   In
		err  error
		done chan Out
	}
	order := make(chan item, ahead)
	slots := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(order)
		for {
			in, err := next()
			if errors.Is(err, io.EOF) {
				return
			}
			it := item{in: in, err: err, done: make(chan Out, 1)}
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
	})

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
	wg.Wait()
	return werr
}
