// Package cpuclock reads CPU-time clocks for benchmarks: unlike the wall
// clock they leave out the time a thread waited for a CPU, which on a busy
// machine would swamp what a benchmark measures.
package cpuclock

import (
	"syscall"
	"time"
	"unsafe"
)

const (
	clockProcessCPUTime = 2
	clockThreadCPUTime  = 3
)

// Thread is the CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID);
// false where it cannot be read.
func Thread() (time.Duration, bool) { return read(clockThreadCPUTime) }

// Process is the CPU time of the whole process, every thread
// (CLOCK_PROCESS_CPUTIME_ID): for work that spans goroutines.
func Process() (time.Duration, bool) { return read(clockProcessCPUTime) }

func read(clock uintptr) (time.Duration, bool) {
	var ts syscall.Timespec
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clock, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}
