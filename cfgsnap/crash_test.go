package cfgsnap

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	crashChildEnv = "CFGSNAP_CRASH_CHILD_DIR"
	// crashPointEnv ("op:suffix:n") makes the child SIGKILL itself just
	// before its n-th file-system operation op on a file whose name ends in
	// suffix: a kill at a chosen step of a snapshot or a log rotation.
	crashPointEnv = "CFGSNAP_CRASH_POINT"
)

// crashPoints are the steps of a snapshot (temp file created, written,
// fsynced, renamed, directory fsynced) and of a log rotation (new segment
// created, old snapshot and segment pruned) that the kill rounds hit.
var crashPoints = []string{
	"create:.cfg.tmp", "write:.cfg.tmp", "sync:.cfg.tmp", "rename:.cfg.tmp", "syncdir:.",
	"create:.log", "remove:.cfg", "remove:.log",
}

func crashPointFault() faultFunc {
	spec := os.Getenv(crashPointEnv)
	if spec == "" {
		return nil
	}
	parts := strings.Split(spec, ":")
	n, _ := strconv.Atoi(parts[2])
	var mu sync.Mutex
	return func(op, name string) error {
		if op != parts[0] || !strings.HasSuffix(name, parts[1]) {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		if n--; n == 0 {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
		return nil
	}
}

// crashCfg: every change sets Seq to the version it creates, and A and B are
// only ever changed together (the validator requires A == B).
type crashCfg struct {
	Seq  int64
	A, B int64
}

func crashOpts(dir string) Config[crashCfg] {
	return Config[crashCfg]{
		Dir:           dir,
		SnapshotEvery: 40, // snapshots and compaction happen under the kills too
		Validate: func(c *crashCfg) error {
			if c.A != c.B {
				return errors.New("a != b")
			}
			return nil
		},
	}
}

// crashChild makes acknowledged durable changes as fast as it can, from two
// goroutines (so group commit is exercised), and prints "ack <version>"
// after each one returns. The parent kills it.
func crashChild(dir string) {
	opts := crashOpts(dir)
	opts.fault = crashPointFault()
	st, err := Open(crashCfg{}, opts)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	ack := func(v uint64) {
		mu.Lock()
		os.Stdout.WriteString("ack " + strconv.FormatUint(v, 10) + "\n")
		mu.Unlock()
	}
	go func() {
		for {
			ch, err := st.UpdateFunc(func(c *crashCfg) error {
				c.Seq++
				c.A, c.B = c.Seq, c.Seq
				return nil
			})
			if err != nil {
				fmt.Println("update-func:", err)
				os.Exit(2)
			}
			ack(ch.Version)
		}
	}()
	for {
		s := st.Load()
		ch, err := st.CompareAndUpdate(s.Version(), "seq", s.Version()+1)
		if errors.Is(err, ErrVersionConflict) {
			continue
		}
		if err != nil {
			fmt.Println("cas:", err)
			os.Exit(2)
		}
		ack(ch.Version)
	}
}

// TestCrash re-runs the test binary as a child that makes acknowledged
// durable changes, SIGKILLs it at a random moment, reopens the directory and
// checks that every acknowledged change is there, the versions are
// continuous (Seq == version) and nothing is half-applied (A == B).
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	rounds := 20 + 2*len(crashPoints)
	rng := rand.New(rand.NewPCG(seed(t), 2))
	dir := t.TempDir()
	var acked uint64
	for round := range rounds {
		// Rounds 0-19 kill at a random moment; the others at a step of a
		// snapshot or a rotation, the child killing itself there.
		point := ""
		if round >= 20 {
			point = fmt.Sprintf("%s:%d", crashPoints[(round-20)%len(crashPoints)], 1+rng.IntN(3))
		}
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, crashPointEnv+"="+point)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		first := make(chan struct{})
		done := make(chan struct{})
		var last uint64
		var other []string
		go func() {
			defer close(done)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				line := sc.Text()
				v, ok := strings.CutPrefix(line, "ack ")
				if !ok {
					other = append(other, line)
					continue
				}
				n, _ := strconv.ParseUint(v, 10, 64)
				if last == 0 {
					close(first)
				}
				last = max(last, n)
			}
		}()
		select {
		case <-first:
		case <-done:
			if point != "" {
				break // killed at its point before it acknowledged anything
			}
			cmd.Wait()
			t.Fatalf("round %d: child exited before its first ack: %v", round, other)
		case <-time.After(30 * time.Second):
			t.Fatal("no ack in 30 s")
		}
		if point == "" {
			time.Sleep(time.Duration(rng.IntN(250)) * time.Millisecond) // a random moment, not a synchronisation
			cmd.Process.Signal(syscall.SIGKILL)
			<-done
		} else {
			select {
			case <-done:
			case <-time.After(60 * time.Second): // a guard: the child kills itself at the point
				cmd.Process.Signal(syscall.SIGKILL)
				<-done
				t.Fatalf("round %d: the child never reached %s", round, point)
			}
		}
		werr := cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: child did not die of SIGKILL: %v", round, werr)
		}
		if len(other) > 0 {
			t.Fatalf("round %d: child said %v", round, other)
		}
		if last == 0 && point != "" {
			last = acked // no ack this round
		}
		if last < acked {
			t.Fatalf("round %d: acks went back", round)
		}
		acked = last

		st, err := Open(crashCfg{}, crashOpts(dir))
		if err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		s := st.Load()
		r := st.Recovery()
		st.Close()
		v, c := s.Version(), s.Value()
		switch {
		case v < acked:
			t.Fatalf("round %d: recovered version %d < acknowledged %d", round, v, acked)
		case c.Seq != int64(v):
			t.Fatalf("round %d: seq %d at version %d: versions not continuous", round, c.Seq, v)
		case c.A != c.B:
			t.Fatalf("round %d: half-applied: %+v", round, c)
		case r.CorruptSnapshots > 0 || len(r.Problems) > 1 || len(r.Problems) == 1 && r.TruncatedBytes == 0:
			t.Fatalf("round %d: recovery %+v", round, r)
		}
		t.Logf("round %2d %-20s: acked %6d, recovered %6d (snapshot %d + %d records, %d bytes cut)", round, point, acked, v, r.SnapshotVersion, r.Replayed, r.TruncatedBytes)
		acked = v
	}
}
