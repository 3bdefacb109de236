package cfgsnap

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir) // never returns
	}
	if dir := os.Getenv(crashManyEnv); dir != "" {
		crashManyChild(dir) // never returns
	}
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) {
		if tmpl.dir != "" {
			os.RemoveAll(tmpl.dir)
		}
	}))
}
