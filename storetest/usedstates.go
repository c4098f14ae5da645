package storetest

import (
	"sync/atomic"
	"testing"
	"time"
)

func testUsedStates(t *testing.T, cfg Config) {
	s, ctx := open(t, cfg)
	use := func(key string, expires time.Time) bool {
		t.Helper()
		first, err := s.Use(ctx, key, expires)
		if err != nil {
			t.Fatalf("Use(%q): %v", key, err)
		}
		return first
	}
	later := time.Now().Add(longTTL)
	if !use("state-1", later) {
		t.Errorf("Use of a new key: false, want true")
	}
	if use("state-1", later) {
		t.Errorf("Use of a key used before: true, want false")
	}
	if !use("state-2", later) {
		t.Errorf("Use of a new key after another was used: false, want true")
	}

	// A replayed callback reaching several replicas at once.
	var firsts atomic.Int32
	errs := together(writers, func(int) error {
		first, err := s.Use(ctx, "state-3", later)
		if first {
			firsts.Add(1)
		}
		return err
	})
	for _, err := range errs {
		if err != nil {
			t.Fatalf("concurrent Use: %v", err)
		}
	}
	if n := firsts.Load(); n != 1 {
		t.Errorf("%d concurrent Use of one key: %d reported true, want 1", writers, n)
	}

	// A record that expired no longer counts.
	start := time.Now()
	expires := start.Add(shortTTL)
	if !use("state-4", expires) {
		t.Errorf("Use of a new key with a %v expiry: false, want true", shortTTL)
	}
	again := use("state-4", later)
	if elapsed := time.Since(start); elapsed >= shortTTL {
		t.Fatalf("two Use calls took %v, longer than the %v expiry they check: the store is too slow for this check", elapsed, shortTTL)
	}
	if again {
		t.Errorf("Use of a key before its record expires: true, want false")
	}
	for {
		first, err := s.Use(ctx, "state-4", later)
		now := time.Now()
		switch {
		case err != nil:
			t.Fatalf("Use while waiting for a record to expire: %v", err)
		case first && now.Before(expires):
			t.Fatalf("Use of a key %v before its record expires: true, want false", expires.Sub(now))
		case first:
			if use("state-4", later) {
				t.Errorf("Use of a key used again after its record expired: true, want false")
			}
			return
		case now.After(expires.Add(expirySlack)):
			t.Fatalf("Use of a key %v after its record expired: still false, want true", now.Sub(expires).Round(time.Millisecond))
		}
		time.Sleep(pollInterval)
	}
}
