//go:build unix

package foundation_test

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time (user + system) the process has used: on a shared,
// loaded machine it measures an operation's cost where wall time measures
// the neighbours too.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
