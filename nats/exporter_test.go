package nats_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/elixirscope-go/foundation"
	fnats "github.com/elixirscope-go/foundation/nats"
)

// exportConfig is a config for fast export: big batches, a short flush
// interval, and a query timeout (the Export deadline) short enough that a
// call outliving a server restart is retried soon.
func exportConfig(capacity int) foundation.Config {
	cfg := foundation.DefaultConfig()
	cfg.Storage.Hot.MaxEvents = capacity
	cfg.Capture.Processing.BatchSize = 1000
	cfg.Capture.Processing.MaxQueueSize = 20000
	cfg.Capture.Processing.FlushInterval = 5 * time.Millisecond
	cfg.Interface.QueryTimeout = 2 * time.Second
	return cfg
}

// streamIDs reads every message of the stream and returns how often each
// event ID occurs, checking the headers, subject and payload agree.
func streamIDs(t *testing.T, js jetstream.JetStream, exp *fnats.Exporter) map[uint64]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := exp.Config()
	st, err := js.Stream(ctx, cfg.Stream)
	require.NoError(t, err)
	info, err := st.Info(ctx)
	require.NoError(t, err)
	total := int(info.State.Msgs)
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	require.NoError(t, err)
	seen := make(map[uint64]int, total)
	for got := 0; got < total; {
		batch, err := cons.Fetch(min(5000, total-got), jetstream.FetchMaxWait(10*time.Second))
		require.NoError(t, err)
		for m := range batch.Messages() {
			var ev foundation.Event
			require.NoError(t, json.Unmarshal(m.Data(), &ev))
			h := m.Headers()
			require.Equal(t, exp.MsgID(ev.ID), h.Get(natsgo.MsgIdHdr))
			require.Equal(t, strconv.FormatUint(ev.ID, 10), h.Get(fnats.HeaderEventID))
			require.Equal(t, exp.Subject(ev.Type), m.Subject())
			seen[ev.ID]++
			got++
		}
		require.NoError(t, batch.Error())
	}
	return seen
}

// TestExportSurvivesRestart stores n events while the server is stopped and
// started again (same store dir, same port) and checks that the stream holds
// each event exactly once.
func TestExportSurvivesRestart(t *testing.T) {
	n := 100_000
	if raceEnabled {
		n = 10_000 // the 100,000 run is the same test without -race
	}
	if testing.Short() {
		n = 5_000
	}
	opts := server.Options{Port: freePort(t), StoreDir: t.TempDir()}
	s := startServer(t, opts)
	nc, js := connect(t, url(opts.Port))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	exp, err := fnats.NewExporter(ctx, js, fnats.ExporterConfig{Stream: "EVENTS", Subject: "test.events", Source: "node1"})
	require.NoError(t, err)
	f, err := foundation.New(foundation.WithConfig(exportConfig(n)), foundation.WithExporter(exp))
	require.NoError(t, err)
	defer f.Close()
	w, err := fnats.WatchConn(f, nc, "nats")
	require.NoError(t, err)
	defer w.Close()

	es := f.Events()
	types := []string{"user.login", "order created", "config_updated", "a*b>c"}
	store := func(from, to int) {
		batch := make([]foundation.Event, 0, 500)
		for i := from; i < to; i++ {
			batch = append(batch, foundation.Event{Type: types[i%len(types)], CorrelationID: "c" + strconv.Itoa(i%97),
				Data: []byte(fmt.Sprintf(`{"i":%d}`, i))})
			if len(batch) == cap(batch) || i == to-1 {
				_, err := es.StoreBatch(batch)
				require.NoError(t, err)
				batch = batch[:0]
			}
		}
	}
	start := time.Now()
	store(0, n/2)
	require.Eventually(t, func() bool { return es.Stats().Exported >= uint64(n/4) }, time.Minute, time.Millisecond)

	// Stop the server in the middle of the export, keep storing, restart.
	stopServer(s)
	require.Eventually(t, func() bool { return f.Health().Components["nats"].Status == foundation.StatusDegraded },
		10*time.Second, time.Millisecond)
	h := f.Health().Components["nats"]
	require.Contains(t, h.Reason, "unreachable")
	store(n/2, n)
	exportedWhileDown := es.Stats().Exported
	s = startServer(t, opts)
	require.Eventually(t, func() bool { return es.Stats().Exported == uint64(n) }, 2*time.Minute, time.Millisecond,
		"exported %d of %d", es.Stats().Exported, n)
	elapsed := time.Since(start)
	require.Eventually(t, func() bool { return f.Health().Components["nats"].Status == foundation.StatusRunning },
		10*time.Second, time.Millisecond)

	st := es.Stats()
	require.Zero(t, st.ExportDropped)
	seen := streamIDs(t, js, exp)
	require.Len(t, seen, n, "distinct events in the stream")
	for id := uint64(1); id <= uint64(n); id++ {
		require.Equal(t, 1, seen[id], "event %d", id)
	}
	es2 := exp.Stats()
	t.Logf("%d events exported in %s across a server restart (%d exported before the restart); exporter: %+v",
		n, elapsed.Round(time.Millisecond), exportedWhileDown, es2)
	_ = s
}

func TestExporterSubjectsAndErrors(t *testing.T) {
	s := startServer(t, server.Options{})
	_, js := connect(t, s.ClientURL())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	exp, err := fnats.NewExporter(ctx, js, fnats.ExporterConfig{})
	require.NoError(t, err)
	cfg := exp.Config()
	require.Equal(t, "FOUNDATION_EVENTS", cfg.Stream)
	require.NotEmpty(t, cfg.Source)
	for typ, want := range map[string]string{
		"config_updated": "foundation.events.config_updated",
		"user.login":     "foundation.events.user_login",
		"a b*c>":         "foundation.events.a_b_c_",
		"":               "foundation.events._",
		"é":              "foundation.events.__",
	} {
		require.Equal(t, want, exp.Subject(typ), typ)
	}

	// The same batch twice: acknowledged twice, stored once.
	batch := []foundation.Event{{ID: 1, Type: "x", Time: 1}, {ID: 2, Type: "y", Time: 2}}
	require.NoError(t, exp.Export(ctx, batch))
	require.NoError(t, exp.Export(ctx, batch))
	st, err := js.Stream(ctx, cfg.Stream)
	require.NoError(t, err)
	info, err := st.Info(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 2, info.State.Msgs)
	require.Equal(t, fnats.ExporterStats{Batches: 2, Events: 4, Duplicates: 2}, exp.Stats())

	// A cancelled context while the server is away fails, and says so.
	require.NoError(t, exp.Close())
	require.ErrorIs(t, exp.Export(ctx, batch), foundation.ErrClosed)

	_, err = fnats.NewExporter(ctx, nil, fnats.ExporterConfig{})
	require.ErrorIs(t, err, foundation.ErrInvalidArgument)
}

func TestExportWaitsForConnection(t *testing.T) {
	opts := server.Options{Port: freePort(t)}
	s := startServer(t, opts)
	nc, js := connect(t, url(opts.Port))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	exp, err := fnats.NewExporter(ctx, js, fnats.ExporterConfig{Storage: jetstream.MemoryStorage})
	require.NoError(t, err)
	stopServer(s)
	require.Eventually(t, func() bool { return !nc.IsConnected() }, 10*time.Second, time.Millisecond)
	short, cancelShort := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancelShort()
	err = exp.Export(short, []foundation.Event{{ID: 1, Type: "x"}})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.True(t, strings.Contains(err.Error(), "unreachable"), err.Error())
	require.EqualValues(t, 1, exp.Stats().Failures)
}
