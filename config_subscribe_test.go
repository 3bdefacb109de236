package foundation_test

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/elixirscope-go/foundation"
)

// A subscription taken while or after the Foundation closes has its
// channel closed: none is left open (nor kept in the list) by a Subscribe
// that raced Close.
func TestConfigSubscribeRacingClose(t *testing.T) {
	for round := 0; round < 20; round++ {
		f, err := foundation.New()
		require.NoError(t, err)
		subs := make(chan *foundation.ConfigSubscription, 64)
		var wg sync.WaitGroup
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 8; i++ {
					subs <- f.Config().Subscribe()
				}
			}()
		}
		require.NoError(t, f.Close())
		wg.Wait()
		subs <- f.Config().Subscribe() // after Close
		close(subs)
		for s := range subs {
			for range s.C() { // drains whatever was sent before Close; ends only if closed
			}
		}
	}
}
