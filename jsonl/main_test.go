package jsonl_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The sink starts no goroutines; the example runs a Foundation, which must
// stop all of its own on Close.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
