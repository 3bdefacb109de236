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

const crashChildEnv = "CFGSNAP_CRASH_CHILD_DIR"

// crashCfg: every change sets Seq to the version it creates, and A and B are
// only ever changed together (the validator requires A == B).
type crashCfg struct {
	Seq  int64
	A, B int64
}

func crashOpts(dir string) Options[crashCfg] {
	return Options[crashCfg]{
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
	st, err := Open(crashCfg{}, crashOpts(dir))
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
	rounds := 20
	rng := rand.New(rand.NewPCG(seed(t), 2))
	dir := t.TempDir()
	var acked uint64
	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
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
			cmd.Wait()
			t.Fatalf("round %d: child exited before its first ack: %v", round, other)
		case <-time.After(30 * time.Second):
			t.Fatal("no ack in 30 s")
		}
		time.Sleep(time.Duration(rng.IntN(250)) * time.Millisecond) // a random moment, not a synchronisation
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
		cmd.Wait()
		if len(other) > 0 {
			t.Fatalf("round %d: child said %v", round, other)
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
		t.Logf("round %2d: acked %6d, recovered %6d (snapshot %d + %d records, %d bytes cut)", round, acked, v, r.SnapshotVersion, r.Replayed, r.TruncatedBytes)
		acked = v
	}
}
