package nats

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/elixirscope-go/foundation"
	natsgo "github.com/nats-io/nats.go"
)

// ConnWatch reports the state of a NATS connection as the health of a
// component of a Foundation; see [WatchConn].
type ConnWatch struct {
	f         *foundation.Foundation
	nc        *natsgo.Conn
	component string

	mu      sync.Mutex // guards stopped and the Add of running
	stopped bool
	running sync.WaitGroup
	stop    context.CancelFunc
	stopCtx context.Context
	since   time.Time // when the connection was lost; set by WatchConn, then only by run
}

// WatchConn reports nc's state as the health of component in f
// ([foundation.Foundation.ReportHealth]): running while nc is connected,
// degraded — with the time the server became unreachable and the
// connection's last error — while nc is disconnected or reconnecting, and
// degraded "closed" once nc is closed. It runs as the supervised task
// "nats.health.<component>", driven by nc's status events (no polling), so
// it costs nothing while the state does not change; it never blocks nc or
// any caller.
//
// [NewReplicator] calls it for its Foundation (component "nats"); call it
// yourself when you use only an [Exporter]. The error matches
// [foundation.ErrClosed] after f is closed, or [foundation.ErrTaskExists]
// when the component is watched already.
func WatchConn(f *foundation.Foundation, nc *natsgo.Conn, component string) (*ConnWatch, error) {
	if f == nil || nc == nil || component == "" {
		return nil, fmt.Errorf("nats: WatchConn: nil Foundation, nil conn or empty component: %w", foundation.ErrInvalidArgument)
	}
	w := &ConnWatch{f: f, nc: nc, component: component}
	w.stopCtx, w.stop = context.WithCancel(context.Background())
	w.report() // the current state, before WatchConn returns
	if err := f.Go("nats.health."+component, w.run, foundation.WithRestart(foundation.Transient)); err != nil {
		w.stop()
		return nil, err
	}
	return w, nil
}

func (w *ConnWatch) run(ctx context.Context) error {
	w.mu.Lock()
	if w.stopped {
		w.mu.Unlock()
		return nil
	}
	w.running.Add(1)
	w.mu.Unlock()
	defer w.running.Done()

	ch := w.nc.StatusChanged()
	defer w.nc.RemoveStatusListener(ch)
	w.report()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-w.stopCtx.Done():
			return nil
		case _, ok := <-ch:
			if !ok {
				return nil
			}
			// The listener's sends don't block, so events may be lost:
			// the connection's current status is the truth.
			w.report()
		}
	}
}

func (w *ConnWatch) report() {
	since := &w.since
	st := w.nc.Status()
	if st == natsgo.CONNECTED {
		*since = time.Time{}
		w.f.ReportHealth(w.component, foundation.ServiceHealth{Status: foundation.StatusRunning})
		return
	}
	if since.IsZero() {
		*since = time.Now()
	}
	why := "no error reported"
	if err := w.nc.LastError(); err != nil {
		why = err.Error()
	}
	reason := fmt.Sprintf("nats server unreachable since %s (connection %s, last error: %s): "+
		"events wait in the store, config is not replicated, local config keeps working",
		since.UTC().Format(time.RFC3339), st, why)
	if st == natsgo.CLOSED {
		reason = "nats connection closed: events are not exported, config is not replicated"
	}
	w.f.ReportHealth(w.component, foundation.ServiceHealth{Status: foundation.StatusDegraded, Reason: reason})
}

// Close stops the watch and waits for its task to return; the component is
// then reported running with the reason "not watched". Idempotent.
func (w *ConnWatch) Close() {
	w.mu.Lock()
	if w.stopped {
		w.mu.Unlock()
		return
	}
	w.stopped = true
	w.mu.Unlock()
	w.stop()
	w.running.Wait()
	w.f.ReportHealth(w.component, foundation.ServiceHealth{Status: foundation.StatusRunning, Reason: "not watched"})
}
