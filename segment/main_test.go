package segment

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir) // never returns
	}
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		if keyQueryDir != "" {
			_ = os.RemoveAll(keyQueryDir)
		}
		os.Exit(code)
	}))
}
