//go:build !linux

package ddoauth_test

import "time"

func threadCPU() (time.Duration, bool) { return 0, false }
