package foundation_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/elixirscope-go/foundation"
	"github.com/elixirscope-go/foundation/jsonl"
)

// eventually polls cond (yielding) with a generous guard; it asserts no
// timing, only that cond becomes true.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond) // a poll interval, not a synchronization
	}
}

func readJSONL(t *testing.T, files []string) []foundation.Event {
	t.Helper()
	var out []foundation.Event
	for _, p := range files {
		fh, err := os.Open(p)
		require.NoError(t, err)
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			var e foundation.Event
			require.NoError(t, json.Unmarshal(sc.Bytes(), &e), "%s: %q", p, sc.Text())
			out = append(out, e)
		}
		require.NoError(t, sc.Err())
		fh.Close()
	}
	return out
}

func TestJSONLSinkRoundTripAndRotation(t *testing.T) {
	dir := t.TempDir()
	e, err := jsonl.New[foundation.Event](dir, jsonl.WithRotateSize(300), jsonl.WithKeepFiles(0))
	require.NoError(t, err)
	var want []foundation.Event
	for i := 0; i < 20; i++ {
		batch := []foundation.Event{
			{ID: uint64(2*i + 1), Type: "t", Time: int64(i), CorrelationID: "c", ParentID: 9, Data: []byte{0, 1, byte(i)}},
			{ID: uint64(2*i + 2), Type: "u", Time: int64(i)},
		}
		require.NoError(t, e.Export(context.Background(), batch))
		want = append(want, batch...)
	}
	files := e.Files()
	assert.Greater(t, len(files), 3, "rotated by size")
	for _, p := range files[:len(files)-1] {
		fi, err := os.Stat(p)
		require.NoError(t, err)
		assert.LessOrEqual(t, fi.Size(), int64(300))
	}
	require.NoError(t, e.Close())
	require.NoError(t, e.Close())
	assert.Equal(t, want, readJSONL(t, files))
	assert.ErrorIs(t, e.Export(context.Background(), want[:1]), jsonl.ErrClosed)

	// A new exporter continues the numbering; WithKeepFiles bounds the files.
	e2, err := jsonl.New[foundation.Event](dir, jsonl.WithRotateSize(100), jsonl.WithKeepFiles(2))
	require.NoError(t, err)
	for i := 0; i < 10; i++ {
		require.NoError(t, e2.Export(context.Background(), want[i:i+1]))
	}
	assert.Len(t, e2.Files(), 2)
	require.NoError(t, e2.Close())

}

// A *jsonl.Sink[Event] is an Exporter as it is.
var _ foundation.Exporter = (*jsonl.Sink[foundation.Event])(nil)

func TestExportThroughFoundation(t *testing.T) {
	dir := t.TempDir()
	e, err := jsonl.New[foundation.Event](dir)
	require.NoError(t, err)
	cfg := foundation.DefaultConfig()
	cfg.Capture.Processing.BatchSize = 10
	cfg.Capture.Processing.FlushInterval = 5 * time.Millisecond
	f, err := foundation.New(foundation.WithConfig(cfg), foundation.WithExporter(e))
	require.NoError(t, err)
	es := f.Events()
	var want []uint64
	for i := 0; i < 95; i++ {
		id, err := es.Store(foundation.Event{Type: "t", Data: []byte("x")})
		require.NoError(t, err)
		want = append(want, id)
	}
	eventually(t, "export of 95 events", func() bool { return es.Stats().Exported == 95 })
	// Stored just before Close: flushed by Close.
	id, err := es.Store(foundation.Event{Type: "last"})
	require.NoError(t, err)
	want = append(want, id)
	require.NoError(t, f.Close())
	got := readJSONL(t, e.Files())
	assert.Equal(t, want, ids(got))
	assert.Equal(t, uint64(96), es.Stats().Exported)
}

// flakySink fails, hangs or panics while its mode says so, and records what
// it acknowledged.
type flakySink struct {
	mode    atomic.Int32 // 0 ok, 1 error, 2 hang (honours ctx), 3 panic, 4 hang (ignores ctx)
	calls   atomic.Int64
	release chan struct{} // ends the mode-4 hang
	mu      sync.Mutex
	got     []uint64
}

func (s *flakySink) Export(ctx context.Context, batch []foundation.Event) error {
	s.calls.Add(1)
	switch s.mode.Load() {
	case 1:
		return errors.New("sink down")
	case 2:
		<-ctx.Done()
		return ctx.Err()
	case 3:
		panic("sink exploded")
	case 4:
		<-s.release
		return errors.New("released")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range batch {
		s.got = append(s.got, e.ID)
	}
	return nil
}

func (s *flakySink) acked() []uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]uint64(nil), s.got...)
}

func TestExportFailingSink(t *testing.T) {
	for name, mode := range map[string]int32{"error": 1, "hang": 2, "panic": 3, "hang-ignoring-ctx": 4} {
		t.Run(name, func(t *testing.T) {
			sink := &flakySink{release: make(chan struct{})}
			sink.mode.Store(mode)
			cfg := foundation.DefaultConfig()
			cfg.Storage.Hot.MaxEvents = 100
			cfg.Capture.Processing.BatchSize = 10
			cfg.Capture.Processing.FlushInterval = time.Millisecond
			cfg.Capture.Processing.MaxQueueSize = 30
			cfg.Interface.QueryTimeout = 20 * time.Millisecond // the export call's deadline
			f := newF(t, foundation.WithConfig(cfg), foundation.WithExporter(sink))
			es := f.Events()
			for i := 0; i < 20; i++ {
				_, err := es.Store(foundation.Event{Type: "t"})
				require.NoError(t, err)
			}
			eventually(t, "degraded health", func() bool { return f.Health().Events.Status == foundation.StatusDegraded })
			assert.Contains(t, f.Health().Events.Reason, "export")
			assert.Equal(t, foundation.StatusDegraded, f.Health().Status)
			// The store is unaffected, and the sink stays down while the
			// ring wraps: the buffer holds 30, the rest is counted dropped.
			for i := 0; i < 480; i++ {
				_, err := es.Store(foundation.Event{Type: "t"})
				require.NoError(t, err)
			}
			eventually(t, "buffer full", func() bool { return es.Stats().ExportPending == 30 })
			st := es.Stats()
			assert.Equal(t, uint64(500), st.Stored)
			assert.Zero(t, st.Exported)
			assert.Positive(t, st.ExportDropped)

			sink.mode.Store(0) // recovery
			close(sink.release)
			eventually(t, "recovery", func() bool {
				st := es.Stats()
				return st.Exported+st.ExportDropped == 500
			})
			eventually(t, "healthy", func() bool { return f.Health().Events.Status == foundation.StatusRunning })
			st = es.Stats()
			got := sink.acked()
			assert.Equal(t, int(st.Exported), len(got))
			for i := 1; i < len(got); i++ {
				assert.Less(t, got[i-1], got[i], "acknowledged in ID order, once")
			}
			assert.Equal(t, uint64(1), got[0], "the buffered events survived the outage")
			assert.Equal(t, uint64(500), got[len(got)-1])
			assert.GreaterOrEqual(t, st.Exported, uint64(30+100-30), "buffer + what the ring still held")
		})
	}
}
