package foundation

import (
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/elixirscope-go/foundation/cfgsnap"
)

// TestConfigBoundsCatalogue walks every bound: its ends are accepted, one
// past the top is ErrRange naming the path, one below the bottom is a
// validation error, and docs/config.md's bounds table lists it with its
// ends.
func TestConfigBoundsCatalogue(t *testing.T) {
	sc, err := cfgsnap.NewSchema[Config]()
	if err != nil {
		t.Fatal(err)
	}
	doc := configDocText(t)
	for _, b := range configBounds() {
		t.Run(b.path, func(t *testing.T) {
			fi, ok := sc.Field(b.path)
			if !ok || fi.Parent {
				t.Fatalf("no leaf %s", b.path)
			}
			try := func(v int64) error {
				cfg := DefaultConfig()
				cfg.Storage.Warm.Enable = true // warm bounds apply only when enabled
				var val any = int(v)
				if b.dur {
					val = time.Duration(v)
				}
				if err := sc.Set(&cfg, b.path, val); err != nil {
					t.Fatalf("set %v: %v", val, err)
				}
				return cfg.Validate()
			}
			for _, v := range []int64{b.lo, b.hi} {
				if err := try(v); err != nil {
					t.Errorf("%d refused: %v", v, err)
				}
			}
			err := try(b.hi + 1)
			if !errors.Is(err, ErrRange) || !errors.Is(err, ErrValidation) || !strings.Contains(err.Error(), b.path) {
				t.Errorf("max+1: %v", err)
			}
			if err := try(b.lo - 1); !errors.Is(err, ErrValidation) {
				t.Errorf("min-1: %v", err)
			}
			lo, hi := strconv.FormatInt(b.lo, 10), thousands(b.hi)
			if b.dur {
				lo, hi = shortDur(time.Duration(b.lo)), shortDur(time.Duration(b.hi))
			}
			if row := "| `" + b.path + "` | " + lo + " | " + hi; !strings.Contains(doc, row) {
				t.Errorf("docs/config.md's bounds table lacks %q", row)
			}
		})
	}
	// A timeout that fails every query and a batch no buffer can hold.
	cfg := DefaultConfig()
	cfg.Interface.QueryTimeout = time.Nanosecond
	if err := cfg.Validate(); !errors.Is(err, ErrRange) {
		t.Errorf("query_timeout 1ns: %v", err)
	}
	cfg = DefaultConfig()
	cfg.Capture.Processing.BatchSize = 1 << 40
	if err := cfg.Validate(); !errors.Is(err, ErrRange) {
		t.Errorf("batch_size 2^40: %v", err)
	}
}

// shortDur is d as the docs write it: 1h, 24h, 10ms (not 1h0m0s).
func shortDur(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func configDocText(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Values of each leaf type inside, at and past the bounds of
// docs/config.md (and of the enums), for the tests that set random fields.
var (
	boundaryInts = []int64{-1, 0, 1, 2, 99, 1000, 1024, 1025, 100_000, 100_001, 1_000_000, 1_000_001, 1 << 24, 1<<24 + 1,
		1 << 27, 1<<27 + 1, 315_360_000, 315_360_001, math.MaxInt64}
	boundaryDurs = []time.Duration{-1, 0, 1, time.Millisecond - 1, time.Millisecond, 10*time.Millisecond - 1, 10 * time.Millisecond,
		time.Second, time.Hour, time.Hour + 1, 24 * time.Hour, 24*time.Hour + 1}
	boundaryFloats = []float64{math.NaN(), math.Inf(1), math.Inf(-1), -0.5, math.Copysign(0, -1), 0, 0.5, 1, 1.0000001, 2, 1e300}
	boundaryStrs   = []string{"", "x", "mock", "openai", "fast", "balanced", "drop_oldest", "block", "none", "zstd"}
)

// boundaryValue picks a random boundary value of the type of path p (a
// string for any other type: the field may not hold it).
func boundaryValue(r *rand.Rand, sc *cfgsnap.Schema[Config], p string) any {
	fi, _ := sc.Field(p)
	switch {
	case fi.Type == reflect.TypeFor[time.Duration]():
		return boundaryDurs[r.IntN(len(boundaryDurs))]
	case fi.Type.Kind() == reflect.Int:
		return boundaryInts[r.IntN(len(boundaryInts))]
	case fi.Type.Kind() == reflect.Float64:
		return boundaryFloats[r.IntN(len(boundaryFloats))]
	case fi.Type.Kind() == reflect.Bool:
		return r.IntN(2) == 0
	}
	return boundaryStrs[r.IntN(len(boundaryStrs))]
}

// valid (Validate's fast path) accepts exactly what check accepts.
func TestValidFastPathMatchesCheck(t *testing.T) {
	sc, err := cfgsnap.NewSchema[Config]()
	if err != nil {
		t.Fatal(err)
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 7))
	paths := sc.Paths()
	for n := 0; n < 20000; n++ {
		cfg := DefaultConfig()
		if r.IntN(2) == 0 {
			cfg.Storage.Warm.Enable = true
		}
		for k := r.IntN(3); k >= 0; k-- {
			p := paths[r.IntN(len(paths))]
			_ = sc.Set(&cfg, p, boundaryValue(r, sc, p)) // values the field cannot hold are skipped
		}
		if got, want := cfg.valid(), cfg.check() == nil; got != want {
			t.Fatalf("valid() = %v, check() = %v for %+v", got, cfg.check(), cfg)
		}
	}
}

// Every updatable path has its entry in pathRules, and only those.
func TestPathRulesCoverUpdatable(t *testing.T) {
	if len(pathRules) != len(updatablePaths) {
		t.Fatalf("%d path rules for %d updatable paths", len(pathRules), len(updatablePaths))
	}
	for _, p := range updatablePaths {
		if _, ok := pathRules[p]; !ok {
			t.Errorf("updatable path %s has no entry in pathRules", p)
		}
	}
}

// The check validatePath gives for an updatable path returns what
// Validate returns (nil, or the same error) for every candidate that
// differs at that path only from a valid config: random valid configs
// (every field varied, storage.warm on and off), random values of the
// path, inside, at and past its bounds.
func TestPathRulesMatchValidate(t *testing.T) {
	sc, err := cfgsnap.NewSchema[Config]()
	if err != nil {
		t.Fatal(err)
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 11))
	paths := sc.Paths()
	checks := map[string]func(*Config) error{}
	for _, p := range updatablePaths {
		if checks[p] = validatePath(p); checks[p] == nil {
			t.Fatalf("no check for %s", p)
		}
	}
	bases, tried := 0, 0
	for bases < 3000 && tried < 1_000_000 {
		tried++
		base := DefaultConfig()
		base.Storage.Warm.Enable = r.IntN(2) == 0
		for k := r.IntN(6); k >= 0; k-- {
			p := paths[r.IntN(len(paths))]
			_ = sc.Set(&base, p, boundaryValue(r, sc, p)) // values the field cannot hold are skipped
		}
		if base.Validate() != nil {
			continue
		}
		bases++
		for _, p := range updatablePaths {
			for i := 0; i < 4; i++ {
				cand := base
				if sc.Set(&cand, p, boundaryValue(r, sc, p)) != nil {
					continue
				}
				got, want := checks[p](&cand), cand.Validate()
				if (got == nil) != (want == nil) || got != nil && got.Error() != want.Error() {
					t.Fatalf("%s on %+v:\n check: %v\n Validate: %v", p, cand, got, want)
				}
			}
		}
	}
	if bases < 3000 {
		t.Fatalf("only %d valid bases in %d tries", bases, tried)
	}
}
