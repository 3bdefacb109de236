package foundation

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/elixirscope-go/foundation/cfgsnap"
)

// TestConfigBoundsCatalogue walks every bound: its ends are accepted, one
// past the top is ErrRange naming the path, one below the bottom is a
// validation error, and the README lists it.
func TestConfigBoundsCatalogue(t *testing.T) {
	sc, err := cfgsnap.NewSchema[Config]()
	if err != nil {
		t.Fatal(err)
	}
	readme := readmeText(t)
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
			if !strings.Contains(readme, "| "+b.path+" |") {
				t.Errorf("README's bounds table lacks %s", b.path)
			}
		})
	}
	// The cases the issue names.
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

func readmeText(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
