package foundation_test

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

	"github.com/elixirscope-go/foundation"
)

const warmChildEnv = "FOUNDATION_WARM_CHILD_DIR"

const warmCrashInterval = 100 * time.Millisecond // capture.processing.flush_interval of the child

func warmCrashConfig(dir string) foundation.Config {
	cfg := foundation.DefaultConfig()
	cfg.Storage.Hot.MaxEvents = 20000 // two seconds of the child's stores: a slow round loses nothing
	cfg.Storage.Warm.Enable = true
	cfg.Storage.Warm.Path = dir
	cfg.Storage.Warm.MaxSizeMB = 64
	cfg.Capture.Processing.BatchSize = 200
	cfg.Capture.Processing.FlushInterval = warmCrashInterval
	return cfg
}

// warmChild stores events as fast as it can (their Data names the round
// and a counter) and prints "stored <id> <data>" after each Store
// returned. The parent kills it.
func warmChild(dir string) {
	f, err := foundation.New(foundation.WithConfig(warmCrashConfig(dir)))
	if err != nil {
		fmt.Println("new:", err)
		os.Exit(2)
	}
	round := os.Getenv("FOUNDATION_WARM_CHILD_ROUND")
	for i := 0; ; i++ {
		data := round + "-" + strconv.Itoa(i)
		id, err := f.Events().Store(foundation.Event{Type: "crash", CorrelationID: "c" + strconv.Itoa(i%10), Data: []byte(data)})
		if err != nil {
			fmt.Println("store:", err)
			os.Exit(2)
		}
		os.Stdout.WriteString("stored " + strconv.FormatUint(id, 10) + " " + data + "\n")
		if i%20 == 0 {
			// A steady stream (at most ~20k events/s), not a flood: the
			// warm tier is fed off the Store path and, by design, loses
			// (and counts) what the ring overwrites before it is copied.
			time.Sleep(time.Millisecond)
		}
	}
}

// TestWarmCrashLoop kills a process storing events with the warm tier on
// (flush interval 100 ms) with SIGKILL, FOUNDATION_WARM_CRASH_ROUNDS times
// (default 20), at random moments. After each kill, a new Foundation on the
// same storage.warm.path must return, in (Time, ID) order and exactly once,
// every event whose Store had returned more than one flush interval before
// the kill (plus 400 ms for the round's own write and fsync on a loaded
// machine), with its own data — from this round and every earlier one.
func TestWarmCrashLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	rounds := 20
	if v, err := strconv.Atoi(os.Getenv("FOUNDATION_WARM_CRASH_ROUNDS")); err == nil {
		rounds = v
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	dir := t.TempDir()
	required := map[uint64]string{} // ID -> data, of every round
	const margin = 400 * time.Millisecond
	for round := 0; round < rounds; round++ {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), warmChildEnv+"="+dir, "FOUNDATION_WARM_CHILD_ROUND="+strconv.Itoa(round))
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		type seen struct {
			id   uint64
			data string
			at   time.Time
		}
		var got []seen
		sc := bufio.NewScanner(out)
		runFor := time.Duration(700+round*53%600) * time.Millisecond
		start := time.Now()
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			require.Equal(t, 3, len(f), sc.Text())
			id, err := strconv.ParseUint(f[1], 10, 64)
			require.NoError(t, err)
			got = append(got, seen{id, f[2], time.Now()})
			if time.Since(start) > runFor {
				break
			}
		}
		kill := time.Now()
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		_ = cmd.Wait()
		for _, s := range got {
			if s.at.Before(kill.Add(-warmCrashInterval - margin)) {
				required[s.id] = s.data
			}
		}

		f, err := foundation.New(foundation.WithConfig(warmCrashConfig(dir)))
		require.NoError(t, err, "round %d", round)
		all := map[uint64]string{}
		q := foundation.Query{Limit: 1000}
		var prev *foundation.Event
		for {
			page, err := f.Events().Query(q)
			require.NoError(t, err)
			if len(page) == 0 {
				break
			}
			for i := range page {
				e := page[i]
				if prev != nil {
					require.True(t, prev.Time < e.Time || (prev.Time == e.Time && prev.ID < e.ID), "round %d: order", round)
				}
				_, dup := all[e.ID]
				require.False(t, dup, "round %d: event %d twice", round, e.ID)
				all[e.ID] = string(e.Data)
				prev = &page[i]
			}
			q.After = page[len(page)-1].Cursor()
		}
		missing := 0
		for id, data := range required {
			if all[id] != data {
				missing++
				if missing < 5 {
					t.Errorf("round %d: event %d (%s) is %q after the kill", round, id, data, all[id])
				}
			}
		}
		require.Zero(t, missing, "round %d: %d of %d required events missing (%d stored this round, %d found)",
			round, missing, len(required), len(got), len(all))
		require.Empty(t, f.Events().Stats().Warm.WriteErrors)
		require.NoError(t, f.Close())
	}
	t.Logf("%d rounds, %d events required and found", rounds, len(required))
}
