// Package retry holds ddoauth's backoff policy: few attempts, exponential
// delays with jitter, and a server's Retry-After honoured when it asks for
// no more than the policy allows.
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
	Max      time.Duration // longest single delay, Retry-After included; 0 means 10s
}

func (p Policy) attempts() int {
	if p.Attempts > 0 {
		return p.Attempts
	}
	return 4
}

// Delay returns how long to wait before try number attempt+1 (attempt
// counts from 1), and false when no try is left or the server asked for
// longer than Max.
func (p Policy) Delay(attempt int, retryAfter time.Duration) (time.Duration, bool) {
	base, maxDelay := p.Base, p.Max
	if base <= 0 {
		base = 250 * time.Millisecond
	}
	if maxDelay <= 0 {
		maxDelay = 10 * time.Second
	}
	if attempt >= p.attempts() || retryAfter > maxDelay {
		return 0, false
	}
	if retryAfter > 0 {
		return retryAfter, true
	}
	return Backoff(attempt, base, maxDelay), true
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
