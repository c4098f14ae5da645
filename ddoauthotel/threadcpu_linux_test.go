package ddoauthotel_test

import (
	"syscall"
	"time"
	"unsafe"
)

// threadCPU is the CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID):
// unlike the wall clock it leaves out the time the thread waited for a
// CPU, which on a busy machine would swamp what a benchmark measures.
func threadCPU() (time.Duration, bool) {
	var ts syscall.Timespec
	const clockThreadCPUTime = 3
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTime, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}

// processCPU is the CPU time of the whole process, every thread
// (CLOCK_PROCESS_CPUTIME_ID): for a benchmark whose work spans goroutines.
func processCPU() (time.Duration, bool) {
	var ts syscall.Timespec
	const clockProcessCPUTime = 2
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockProcessCPUTime, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}
