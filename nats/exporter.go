package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elixirscope-go/foundation"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// Header names set on every exported message, besides JetStream's
// Nats-Msg-Id.
const (
	HeaderSource    = "Foundation-Source"     // ExporterConfig.Source
	HeaderEventID   = "Foundation-Event-Id"   // the event's ID, decimal
	HeaderEventType = "Foundation-Event-Type" // the event's Type, unsanitized
)

// ExporterConfig configures [NewExporter]. The zero value is usable: every
// zero field takes the default named beside it.
type ExporterConfig struct {
	// Stream is the JetStream stream's name (default "FOUNDATION_EVENTS").
	Stream string
	// Subject is the subject prefix (default "foundation.events"): an event
	// of type T goes to "<Subject>.<T sanitized>", and the stream holds
	// "<Subject>.>".
	Subject string
	// Source names the event store in message ids (default: a random NUID,
	// new per Exporter). Event IDs are unique only within one store, so the
	// message id is "<Source>-<event ID>": give each instance its own Source
	// when several export to one stream.
	Source string
	// Replicas is the stream's replication factor (default 1; 3 on a
	// cluster for durability across a node loss).
	Replicas int
	// DuplicateWindow is how long JetStream remembers message ids to drop a
	// re-published event (default 2 minutes). A batch retried after the
	// window would be stored twice: keep it longer than the longest outage
	// you want to ride out without duplicates.
	DuplicateWindow time.Duration
	// MaxAge drops events older than this from the stream (default 0:
	// kept until removed by other limits).
	MaxAge time.Duration
	// MaxBytes bounds the stream's size (default 0: unbounded).
	MaxBytes int64
	// Storage is file (the default) or memory.
	Storage jetstream.StorageType
}

func (c *ExporterConfig) defaults() {
	if c.Stream == "" {
		c.Stream = "FOUNDATION_EVENTS"
	}
	if c.Subject == "" {
		c.Subject = "foundation.events"
	}
	if c.Source == "" {
		c.Source = nuid.Next()
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.DuplicateWindow == 0 {
		c.DuplicateWindow = 2 * time.Minute
	}
}

// ExporterStats counts an [Exporter]'s work since it was made.
type ExporterStats struct {
	Batches    uint64 // Export calls that returned nil
	Events     uint64 // events acknowledged by JetStream (duplicates included)
	Duplicates uint64 // acks that said "duplicate": a retried event JetStream already had
	Failures   uint64 // Export calls that returned an error
}

// Exporter is a [foundation.Exporter] that publishes events to a JetStream
// stream; give it to [foundation.New] with [foundation.WithExporter].
//
// Each event becomes one message on "<Subject>.<type>", its payload the
// event's JSON form ([foundation.Event]), its Nats-Msg-Id "<Source>-<ID>".
// Export publishes the batch asynchronously and returns nil only once
// JetStream has acknowledged every message (persisted it, on every replica
// the stream asks for); the store then counts the batch as exported. On any
// error — no connection, a failed or missing ack, ctx's deadline — the store
// retries the whole batch with backoff, and JetStream drops the messages it
// already holds by their ids (within [ExporterConfig.DuplicateWindow]), so
// the stream holds each event once: no acknowledged event is lost, none is
// stored twice.
//
// While the connection is down, Export waits (bounded by ctx) for it to come
// back rather than filling the client's reconnect buffer with retries. Use a
// connection that reconnects forever: [ReconnectOptions].
//
// An Exporter is safe for concurrent use. It does not own the connection:
// Close (called by the Foundation's Close) stops further exports and leaves
// the connection open.
type Exporter struct {
	js     jetstream.JetStream
	nc     *natsgo.Conn
	cfg    ExporterConfig
	prefix string   // cfg.Subject + "."
	subs   sync.Map // event type → subject

	batches, events, dups, failures atomic.Uint64
	closed                          atomic.Bool
}

// NewExporter creates the stream, or updates it to cfg, and returns an
// Exporter publishing to it. ctx bounds the stream's creation. An invalid
// cfg is an error matching [foundation.ErrInvalidArgument]; a JetStream
// error is returned wrapped.
func NewExporter(ctx context.Context, js jetstream.JetStream, cfg ExporterConfig) (*Exporter, error) {
	if js == nil {
		return nil, fmt.Errorf("nats: NewExporter: nil JetStream: %w", foundation.ErrInvalidArgument)
	}
	cfg.defaults()
	if cfg.Replicas < 0 || cfg.DuplicateWindow < 0 || cfg.MaxAge < 0 {
		return nil, fmt.Errorf("nats: NewExporter: negative Replicas, DuplicateWindow or MaxAge: %w", foundation.ErrInvalidArgument)
	}
	if cfg.MaxAge > 0 && cfg.DuplicateWindow > cfg.MaxAge {
		cfg.DuplicateWindow = cfg.MaxAge // JetStream refuses a window past MaxAge
	}
	_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:       cfg.Stream,
		Subjects:   []string{cfg.Subject + ".>"},
		Storage:    cfg.Storage,
		Replicas:   cfg.Replicas,
		Duplicates: cfg.DuplicateWindow,
		MaxAge:     cfg.MaxAge,
		MaxBytes:   nonZero(cfg.MaxBytes, -1),
	})
	if err != nil {
		return nil, fmt.Errorf("nats: NewExporter: stream %q: %w", cfg.Stream, err)
	}
	return &Exporter{js: js, nc: js.Conn(), cfg: cfg, prefix: cfg.Subject + "."}, nil
}

func nonZero[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Config returns the exporter's configuration, defaults filled in.
func (e *Exporter) Config() ExporterConfig { return e.cfg }

// Stats returns the exporter's counters.
func (e *Exporter) Stats() ExporterStats {
	return ExporterStats{Batches: e.batches.Load(), Events: e.events.Load(),
		Duplicates: e.dups.Load(), Failures: e.failures.Load()}
}

// Subject returns the subject an event of type typ is published on:
// "<Subject>." followed by typ with every byte outside [A-Za-z0-9_-]
// replaced by '_' ("_" for an empty type).
func (e *Exporter) Subject(typ string) string {
	if s, ok := e.subs.Load(typ); ok {
		return s.(string)
	}
	s := e.prefix + sanitize(typ)
	e.subs.Store(typ, s)
	return s
}

func sanitize(typ string) string {
	if typ == "" {
		return "_"
	}
	b := []byte(typ)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	return string(b)
}

// MsgID returns the Nats-Msg-Id of the event with id: "<Source>-<id>".
func (e *Exporter) MsgID(id uint64) string { return e.cfg.Source + "-" + strconv.FormatUint(id, 10) }

// Export publishes batch and waits for JetStream's acks; see [Exporter].
// It returns nil only when every event is acknowledged; otherwise an error
// saying which event failed and why (ctx's error when the deadline passed,
// [foundation.ErrClosed] after Close). It blocks for at most ctx's lifetime.
func (e *Exporter) Export(ctx context.Context, batch []foundation.Event) error {
	err := e.export(ctx, batch)
	if err != nil {
		e.failures.Add(1)
		return err
	}
	e.batches.Add(1)
	return nil
}

func (e *Exporter) export(ctx context.Context, batch []foundation.Event) error {
	if e.closed.Load() {
		return fmt.Errorf("nats exporter: %w", foundation.ErrClosed)
	}
	if len(batch) == 0 {
		return nil
	}
	if err := waitConnected(ctx, e.nc); err != nil {
		return fmt.Errorf("nats exporter: %d events not exported: %w", len(batch), err)
	}
	futs := make([]jetstream.PubAckFuture, 0, len(batch))
	for i := range batch {
		ev := &batch[i]
		data, err := json.Marshal(ev)
		if err != nil {
			return fmt.Errorf("nats exporter: event %d: encode: %w", ev.ID, err)
		}
		id := strconv.FormatUint(ev.ID, 10)
		msg := &natsgo.Msg{Subject: e.Subject(ev.Type), Data: data, Header: natsgo.Header{
			HeaderSource:    {e.cfg.Source},
			HeaderEventID:   {id},
			HeaderEventType: {ev.Type},
		}}
		f, err := e.js.PublishMsgAsync(msg, jetstream.WithMsgID(e.cfg.Source+"-"+id), jetstream.WithExpectStream(e.cfg.Stream))
		if err != nil {
			return fmt.Errorf("nats exporter: event %d: publish: %w", ev.ID, err)
		}
		futs = append(futs, f)
	}
	for i, f := range futs {
		select {
		case ack := <-f.Ok():
			e.events.Add(1)
			if ack.Duplicate {
				e.dups.Add(1)
			}
		case err := <-f.Err():
			return fmt.Errorf("nats exporter: event %d: no ack: %w", batch[i].ID, err)
		case <-ctx.Done():
			return fmt.Errorf("nats exporter: %d of %d events unacknowledged: %w", len(futs)-i, len(futs), ctx.Err())
		}
	}
	return nil
}

// waitConnected returns at once when nc is connected, else when it
// reconnects, or ctx's error, or an error if nc is closed.
func waitConnected(ctx context.Context, nc *natsgo.Conn) error {
	if nc.IsConnected() {
		return nil
	}
	ch := nc.StatusChanged(natsgo.CONNECTED, natsgo.CLOSED)
	defer nc.RemoveStatusListener(ch)
	for {
		switch st := nc.Status(); st {
		case natsgo.CONNECTED:
			return nil
		case natsgo.CLOSED:
			return natsgo.ErrConnectionClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("nats server unreachable (connection %s): %w", nc.Status(), errors.Join(ctx.Err(), nc.LastError()))
		}
	}
}

// Close makes later Export calls fail with [foundation.ErrClosed]. It
// leaves the connection open (the caller owns it). Idempotent.
func (e *Exporter) Close() error {
	e.closed.Store(true)
	return nil
}

// ReconnectOptions are the connection options this package expects: never
// give up reconnecting (MaxReconnects(-1)), retry every wait (250ms is a
// good value), and retry the first connect too, so that an instance can
// start while the server is down.
func ReconnectOptions(wait time.Duration) []natsgo.Option {
	return []natsgo.Option{
		natsgo.MaxReconnects(-1),
		natsgo.ReconnectWait(wait),
		natsgo.RetryOnFailedConnect(true),
	}
}
