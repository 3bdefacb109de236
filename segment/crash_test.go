package segment

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const crashChildEnv = "SEGMENT_CRASH_CHILD_DIR"

func crashConfig() Config {
	return Config{Codec: Zstd, BlockSize: MinBlockSize, SegmentSize: MinSegmentSize, MaxBytes: 64 * MinSegmentSize}
}

// crashChild appends records whose Data is their own sequence, flushes
// every few, and prints "ack <seq>" once Flush returned: everything up to
// seq is durable. The parent kills it with SIGKILL.
func crashChild(dir string) {
	l, err := Open(dir, crashConfig())
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	for i := 0; ; i++ {
		seq := l.Stats().NextSeq
		got, err := l.Append(Record{Time: time.Now().UnixNano(), Keys: []uint64{Key(strconv.Itoa(i % 10))},
			Data: []byte(strconv.FormatUint(seq, 10) + strings.Repeat(" pad", i%40))})
		if err != nil || got != seq {
			fmt.Println("append:", got, seq, err)
			os.Exit(2)
		}
		if i%7 == 0 {
			if err := l.Flush(); err != nil {
				fmt.Println("flush:", err)
				os.Exit(2)
			}
			fmt.Printf("ack %d\n", seq)
		}
	}
}

// TestCrashLoop kills a child appending with fsync at random moments and
// checks after each kill that every acknowledged record is there, in order,
// exactly once, and that the log reopens cleanly. SEGMENT_CRASH_ROUNDS sets
// the rounds (default 5).
func TestCrashLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	rounds := 5
	if v, err := strconv.Atoi(os.Getenv("SEGMENT_CRASH_ROUNDS")); err == nil {
		rounds = v
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	dir := t.TempDir()
	acked := uint64(0)
	for round := 0; round < rounds; round++ {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		sc := bufio.NewScanner(out)
		target := 20 + round*7%40
		n := 0
		for sc.Scan() {
			line := sc.Text()
			seq, err := strconv.ParseUint(strings.TrimPrefix(line, "ack "), 10, 64)
			require.NoError(t, err, line)
			acked = max(acked, seq)
			if n++; n == target {
				require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
				break
			}
		}
		_ = cmd.Wait()

		l, err := Open(dir, crashConfig())
		require.NoError(t, err)
		rc := l.Recovery()
		require.Empty(t, rc.CorruptFiles, "round %d: %v", round, rc.Problems)
		var prev uint64
		seen := uint64(0)
		for r, err := range l.Scan(Query{}) {
			require.NoError(t, err)
			require.Greater(t, r.Seq, prev)
			prev = r.Seq
			v, err := strconv.ParseUint(strings.Fields(string(r.Data))[0], 10, 64)
			require.NoError(t, err)
			require.Equal(t, r.Seq, v)
			if r.Seq <= acked {
				seen++
			}
		}
		st := l.Stats()
		// Every acknowledged record not dropped by MaxBytes is there.
		require.Equal(t, acked-uint64(st.LowSeq), seen+firstDropped(t, l), "round %d", round)
		require.GreaterOrEqual(t, prev, acked)
		require.NoError(t, l.Close())
	}
}

// firstDropped is the number of sequences below the first one the log holds.
func firstDropped(t *testing.T, l *Log) uint64 {
	for r, err := range l.Scan(Query{}) {
		require.NoError(t, err)
		return r.Seq - 1
	}
	return 0
}
