package httpretry

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"
)

func TestBackoffCeilingAndJitter(t *testing.T) {
	b := Backoff{Base: 100 * time.Millisecond, Max: time.Second}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, w := range want {
		if got := b.Ceiling(i); got != w*time.Millisecond {
			t.Errorf("Ceiling(%d) = %v, want %v", i, got, w*time.Millisecond)
		}
	}
	if got := b.Ceiling(1000); got != time.Second {
		t.Errorf("Ceiling(1000) = %v", got)
	}
	seenLow, seenHigh := false, false
	for range 2000 {
		d := b.Delay(2)
		if d < 0 || d > 400*time.Millisecond {
			t.Fatalf("Delay(2) = %v out of [0, 400ms]", d)
		}
		seenLow = seenLow || d < 100*time.Millisecond
		seenHigh = seenHigh || d > 300*time.Millisecond
	}
	if !seenLow || !seenHigh {
		t.Error("Delay is not spread over [0, ceiling] (full jitter)")
	}
	if d := b.RetryDelay(0, 2*time.Second); d < 2*time.Second || d > 2200*time.Millisecond {
		t.Errorf("RetryDelay with Retry-After 2s = %v", d)
	}
	if d := b.RetryDelay(0, time.Hour); d < MaxRetryAfter || d > MaxRetryAfter*11/10 {
		t.Errorf("RetryDelay with Retry-After 1h = %v, want capped near %v", d, MaxRetryAfter)
	}
}

func TestBackoffParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		h    string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"1", time.Second, true},
		{" 2 ", 2 * time.Second, true},
		{"0", 0, true},
		{"0.5", 500 * time.Millisecond, true},
		{"-3", 0, false},
		{"3600", MaxRetryAfter, true},
		{now.Add(5 * time.Second).Format(http.TimeFormat), 5 * time.Second, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
		{now.Add(time.Hour).Format(http.TimeFormat), MaxRetryAfter, true},
		{"soon", 0, false},
	} {
		got, ok := ParseRetryAfter(tc.h, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tc.h, got, ok, tc.want, tc.ok)
		}
	}
}

func TestBackoffSleepCtx(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if err := SleepCtx(ctx, time.Minute); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
	if time.Since(start) > 100*time.Millisecond {
		t.Error("SleepCtx ignored cancellation")
	}
	if err := SleepCtx(context.Background(), time.Millisecond); err != nil {
		t.Error(err)
	}
}
