package foundation_test

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/elixirscope-go/foundation"
)

// A service started from a YAML file plus environment overrides, watching
// the file: a save applies the changed updatable paths as one version.
func ExampleWithConfigWatch() {
	dir, _ := os.MkdirTemp("", "app")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "app.yaml")
	_ = os.WriteFile(path, []byte(`
ai:
  provider: openai
  api_key: {env: EXAMPLE_OPENAI_KEY}   # the secret stays out of the file
  planning:
    sampling_rate: 0.5
interface:
  max_results: 500
`), 0o600)
	os.Setenv("EXAMPLE_OPENAI_KEY", "sk-example")
	os.Setenv("MYAPP_INTERFACE__MAX_RESULTS", "250") // the environment beats the file
	defer os.Unsetenv("EXAMPLE_OPENAI_KEY")
	defer os.Unsetenv("MYAPP_INTERFACE__MAX_RESULTS")

	f, err := foundation.New(foundation.WithConfigWatch(path), foundation.WithEnv("MYAPP"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	cfg := f.Config().Get().Config()
	fmt.Println(cfg.AI.Provider, cfg.AI.APIKey, cfg.AI.Planning.SamplingRate, cfg.Interface.MaxResults)

	sub := f.Config().Subscribe()
	defer sub.Close()
	_ = os.WriteFile(path, []byte(`
ai:
  provider: openai
  api_key: {env: EXAMPLE_OPENAI_KEY}
  planning:
    sampling_rate: 0.25
    performance_target: 0.05
interface:
  max_results: 500
`), 0o600)
	for i := 0; i < 2; i++ {
		select {
		case ch := <-sub.C():
			fmt.Printf("%s: %v -> %v (version %d)\n", ch.Path, ch.Old, ch.New, ch.Version)
		case <-time.After(time.Minute):
			fmt.Println("no reload")
			return
		}
	}
	fmt.Println(f.Health().Config.Status)
	// Output:
	// openai [REDACTED] 0.5 250
	// ai.planning.performance_target: 0.01 -> 0.05 (version 1)
	// ai.planning.sampling_rate: 0.5 -> 0.25 (version 1)
	// running
}
