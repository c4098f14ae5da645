// Package retry holds ddoauth's backoff policy: few attempts, exponential
// delays with jitter, and the wait a server asks for (Retry-After,
// X-RateLimit-Reset) honoured when it ends before the caller's deadline.
package retry

import (
	"context"
	"math/rand/v2"
	"time"
)

// Policy bounds retries. The zero Policy means the defaults below.
type Policy struct {
	Attempts int           // total tries, first included; 0 means 4
	Base     time.Duration // first delay; 0 means 250ms
	Max      time.Duration // longest backoff, and longest server wait under a ctx without deadline; 0 means 10s
}

func (p Policy) attempts() int {
	if p.Attempts > 0 {
		return p.Attempts
	}
	return 4
}

// Delay returns how long to wait before try number attempt+1 (attempt
// counts from 1): wait, the pause the server asked for, when it is
// positive, else a jittered backoff. It returns false when no try is
// left, or when the pause would end after ctx's deadline (for a ctx
// without one, when the server asked for longer than Max): the caller then
// fails at once with the answer it has instead of sleeping past the time
// it has.
func (p Policy) Delay(ctx context.Context, attempt int, wait time.Duration) (time.Duration, bool) {
	base, maxDelay := p.Base, p.Max
	if base <= 0 {
		base = 250 * time.Millisecond
	}
	if maxDelay <= 0 {
		maxDelay = 10 * time.Second
	}
	if attempt >= p.attempts() {
		return 0, false
	}
	d := wait
	if d <= 0 {
		d = Backoff(attempt, base, maxDelay)
	}
	if deadline, ok := ctx.Deadline(); ok {
		if time.Until(deadline) <= d {
			return 0, false
		}
	} else if wait > maxDelay {
		return 0, false
	}
	return d, true
}

// Backoff returns the pause after the n-th failure in a row (n counts
// from 1): base doubled each time up to limit, jittered over its upper
// half so that many clients do not retry in step.
func Backoff(n int, base, limit time.Duration) time.Duration {
	d := base << (n - 1)
	if d > limit || d <= 0 || n > 62 {
		d = limit
	}
	return d/2 + rand.N(d/2+1)
}

// Sleep waits d or until ctx is done, whichever is first.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
