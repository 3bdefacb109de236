package cfgsnap

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// crashManyEnv makes the test binary a child that makes UpdateMany changes.
const crashManyEnv = "CFGSNAP_CRASH_MANY_DIR"

// crashManyChild sets seq, a and b to the version each change creates, in
// one UpdateMany per change (it is the only writer, so it knows the
// version), and prints "ack <version>" after each one returns.
func crashManyChild(dir string) {
	st, err := Open(crashCfg{}, crashOpts(dir))
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	for {
		v := int64(st.Load().Version() + 1)
		chs, err := st.UpdateMany(map[string]any{"seq": v, "a": v, "b": v})
		if err != nil || len(chs) != 3 || chs[0].Version != uint64(v) {
			fmt.Println("update-many:", err, chs)
			os.Exit(2)
		}
		os.Stdout.WriteString("ack " + strconv.FormatInt(v, 10) + "\n")
	}
}

// TestCrashUpdateMany SIGKILLs a child making durable UpdateMany changes
// at random moments (snapshots and rotations happen every 40 changes) and
// checks after each kill that every acknowledged change is recovered whole:
// seq, a and b all equal the recovered version.
func TestCrashUpdateMany(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	rng := rand.New(rand.NewPCG(seed(t), 3))
	dir := t.TempDir()
	var acked uint64
	for round := range 12 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashManyEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		first, done := make(chan struct{}), make(chan struct{})
		var last uint64
		var other []string
		go func() {
			defer close(done)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				v, ok := strings.CutPrefix(sc.Text(), "ack ")
				if !ok {
					other = append(other, sc.Text())
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
			cmd.Process.Signal(syscall.SIGKILL)
			<-done
			cmd.Wait()
			t.Fatal("no ack in 30 s")
		}
		time.Sleep(time.Duration(rng.IntN(200)) * time.Millisecond) // a random moment to kill, not a synchronisation
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
		cmd.Wait()
		if len(other) > 0 {
			t.Fatalf("round %d: child said %v", round, other)
		}
		if last < acked {
			t.Fatalf("round %d: acks went back", round)
		}
		st, err := Open(crashCfg{}, crashOpts(dir))
		if err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		s, r := st.Load(), st.Recovery()
		st.Close()
		v, c := s.Version(), s.Value()
		switch {
		case v < last:
			t.Fatalf("round %d: recovered version %d < acknowledged %d", round, v, last)
		case c.Seq != int64(v) || c.A != c.Seq || c.B != c.Seq:
			t.Fatalf("round %d: %+v at version %d: a change recovered in part", round, c, v)
		case r.CorruptSnapshots > 0:
			t.Fatalf("round %d: recovery %+v", round, r)
		}
		t.Logf("round %2d: acked %6d, recovered %6d (snapshot %d + %d records, %d bytes cut)", round, last, v, r.SnapshotVersion, r.Replayed, r.TruncatedBytes)
		acked = v
	}
}
