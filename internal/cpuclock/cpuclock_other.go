//go:build !linux

// Package cpuclock reads CPU-time clocks for benchmarks; off Linux it has
// none, and callers fall back to the wall clock.
package cpuclock

import "time"

// Thread reports no thread CPU clock off Linux.
func Thread() (time.Duration, bool) { return 0, false }

// Process reports no process CPU clock off Linux.
func Process() (time.Duration, bool) { return 0, false }
