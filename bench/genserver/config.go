package genserver

import (
	"encoding/json"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/elixirscope-go/foundation"
)

// ConfigServer owns the config. Get and Update are calls.
type ConfigServer struct {
	in   chan cfgMsg
	quit chan struct{}
	pool *sync.Pool
	ev   *EventStore
	tel  *TelemetryService

	// state, owned by loop
	cfg     foundation.Config
	version uint64
}

type cfgMsg struct {
	update bool
	path   string
	value  any
	reply  chan cfgReply
}

type cfgReply struct {
	cfg foundation.Config
	err error
}

func newConfigServer(quit chan struct{}, cfg foundation.Config, ev *EventStore, tel *TelemetryService) *ConfigServer {
	return &ConfigServer{in: make(chan cfgMsg), quit: quit, pool: newPool[cfgReply](), ev: ev, tel: tel, cfg: cfg}
}

func (c *ConfigServer) loop() {
	for {
		select {
		case m := <-c.in:
			if m.update {
				m.reply <- cfgReply{err: c.handleUpdate(m.path, m.value)}
			} else {
				m.reply <- cfgReply{cfg: c.cfg}
			}
		case <-c.quit:
			return
		}
	}
}

// Get returns the current config (a copy). After Stop it returns the zero Config.
func (c *ConfigServer) Get() foundation.Config {
	r, _ := call(c.in, c.quit, c.pool, func(reply chan cfgReply) cfgMsg { return cfgMsg{reply: reply} })
	return r.cfg
}

// Update sets one updatable path, as foundation's ConfigService.Update does.
func (c *ConfigServer) Update(path string, value any) error {
	r, ok := call(c.in, c.quit, c.pool, func(reply chan cfgReply) cfgMsg {
		return cfgMsg{update: true, path: path, value: value, reply: reply}
	})
	if !ok {
		return fmt.Errorf("config.update: %w", foundation.ErrClosed)
	}
	return r.err
}

// handleUpdate is handle_call({:update, path, value}): convert, apply to a
// candidate, validate the whole candidate, commit, then store the event
// synchronously and count the update.
func (c *ConfigServer) handleUpdate(path string, value any) error {
	next := c.cfg
	old, nv, err := SetPath(&next, path, value)
	if err != nil {
		return err
	}
	if err := next.Validate(); err != nil {
		return err
	}
	c.cfg = next
	c.version++
	data, err := json.Marshal(struct {
		Path    string `json:"path"`
		Old     any    `json:"old"`
		New     any    `json:"new"`
		Version uint64 `json:"version"`
	}{path, old, nv, c.version})
	if err == nil {
		_, err = c.ev.Store(foundation.Event{Type: "config_updated", Data: data})
	}
	c.tel.Execute("foundation.config_updates", counterOne, nil)
	_ = err // as in foundation: a refused event does not fail the update
	return nil
}

var counterOne = foundation.Measurements{"counter": 1}

// SetPath converts value for the updatable path, as foundation does, and
// writes it into cfg, returning the old and the new value. It does not
// validate the result: call cfg.Validate. An unknown or fixed path is an
// error matching [foundation.ErrUpdateForbidden]; a value of the wrong type
// one matching [foundation.ErrTypeMismatch].
func SetPath(cfg *foundation.Config, path string, value any) (old, nv any, err error) {
	switch path {
	case "ai.planning.sampling_rate":
		return setFloat(&cfg.AI.Planning.SamplingRate, path, value)
	case "ai.planning.performance_target":
		return setFloat(&cfg.AI.Planning.PerformanceTarget, path, value)
	case "capture.processing.batch_size":
		return setInt(&cfg.Capture.Processing.BatchSize, path, value)
	case "interface.max_results":
		return setInt(&cfg.Interface.MaxResults, path, value)
	case "capture.processing.flush_interval":
		return setDur(&cfg.Capture.Processing.FlushInterval, path, value)
	case "interface.query_timeout":
		return setDur(&cfg.Interface.QueryTimeout, path, value)
	case "dev.debug_mode":
		return setBool(&cfg.Dev.DebugMode, path, value)
	case "dev.verbose_logging":
		return setBool(&cfg.Dev.VerboseLogging, path, value)
	case "dev.performance_monitoring":
		return setBool(&cfg.Dev.PerformanceMonitoring, path, value)
	}
	return nil, nil, fmt.Errorf("config.update %q: %w", path, foundation.ErrUpdateForbidden)
}

func mismatch(path string, value any) error {
	return fmt.Errorf("config.update %q: %T: %w", path, value, foundation.ErrTypeMismatch)
}

func setFloat(dst *float64, path string, value any) (any, any, error) {
	var f float64
	switch v := value.(type) {
	case float64:
		f = v
	case float32:
		f = float64(v)
	default:
		i, ok := asInt(value)
		if !ok {
			return nil, nil, mismatch(path, value)
		}
		f = float64(i)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, nil, mismatch(path, value)
	}
	old := *dst
	*dst = f
	return old, f, nil
}

func setInt(dst *int, path string, value any) (any, any, error) {
	i, ok := asInt(value)
	if !ok {
		return nil, nil, mismatch(path, value)
	}
	old := *dst
	*dst = int(i)
	return old, int(i), nil
}

func setDur(dst *time.Duration, path string, value any) (any, any, error) {
	var d time.Duration
	switch v := value.(type) {
	case time.Duration:
		d = v
	case string:
		p, err := time.ParseDuration(v)
		if err != nil {
			return nil, nil, mismatch(path, value)
		}
		d = p
	default:
		return nil, nil, mismatch(path, value)
	}
	old := *dst
	*dst = d
	return old, d, nil
}

func setBool(dst *bool, path string, value any) (any, any, error) {
	b, ok := value.(bool)
	if !ok {
		return nil, nil, mismatch(path, value)
	}
	old := *dst
	*dst = b
	return old, b, nil
}

// asInt accepts any Go integer that fits an int64 (and so an int on 64-bit).
func asInt(value any) (int64, bool) {
	switch v := value.(type) {
	case int:
		return int64(v), true
	case int8:
		return int64(v), true
	case int16:
		return int64(v), true
	case int32:
		return int64(v), true
	case int64:
		return v, true
	case uint:
		return int64(v), v <= math.MaxInt64
	case uint8:
		return int64(v), true
	case uint16:
		return int64(v), true
	case uint32:
		return int64(v), true
	case uint64:
		return int64(v), v <= math.MaxInt64
	}
	return 0, false
}
