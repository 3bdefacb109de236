package nats_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/elixirscope-go/foundation"
	fnats "github.com/elixirscope-go/foundation/nats"
)

// instance is one Foundation with its Replicator.
type instance struct {
	f *foundation.Foundation
	r *fnats.Replicator
}

func newInstance(t *testing.T, js jetstream.JetStream, cfg fnats.ReplicatorConfig) instance {
	t.Helper()
	f, err := foundation.New(foundation.WithEventCapacity(1000))
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := fnats.NewReplicator(ctx, f, js, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	return instance{f, r}
}

// values returns the replicated paths' local values.
func (in instance) values(t *testing.T) map[string]any {
	out := map[string]any{}
	for _, p := range in.r.Paths() {
		v, err := in.f.Config().Lookup(p)
		require.NoError(t, err)
		out[p] = v
	}
	return out
}

// converged waits until every instance holds the same replicated values,
// and returns them.
func converged(t *testing.T, ins ...instance) map[string]any {
	t.Helper()
	var last []map[string]any
	ok := func() bool {
		last = nil
		for _, in := range ins {
			last = append(last, in.values(t))
		}
		for _, v := range last[1:] {
			if fmt.Sprint(v) != fmt.Sprint(last[0]) {
				return false
			}
		}
		return true
	}
	if !assert.Eventually(t, ok, 30*time.Second, time.Millisecond) {
		for _, in := range ins {
			t.Logf("not converged: %v (revision of %s: %d)", in.values(t), in.r.Paths()[0], in.r.Revision(in.r.Paths()[0]))
		}
		t.FailNow()
	}
	return last[0]
}

var replPaths = []string{"ai.planning.sampling_rate", "capture.processing.batch_size",
	"interface.query_timeout", "dev.debug_mode"}

func randomValue(rng *rand.Rand, path string) any {
	switch path {
	case "ai.planning.sampling_rate":
		return float64(rng.IntN(1001)) / 1000
	case "capture.processing.batch_size":
		return rng.IntN(5000) + 1
	case "interface.query_timeout":
		return time.Duration(rng.IntN(10000)+1) * time.Millisecond
	default:
		return rng.IntN(2) == 0
	}
}

// TestReplicatorConverges runs three Foundations on one bucket, updating
// the same paths at once, and checks they end equal, with the bucket's
// values, and that every Update either won or lost with ErrVersionConflict.
func TestReplicatorConverges(t *testing.T) {
	s := startServer(t, server.Options{})
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	var ins []instance
	for i := range 3 {
		_, js := connect(t, s.ClientURL())
		ins = append(ins, newInstance(t, js, fnats.ReplicatorConfig{Bucket: "cfg", Paths: replPaths, Origin: fmt.Sprint("i", i)}))
	}
	converged(t, ins...)

	const perInstance = 200
	var wg sync.WaitGroup
	var mu sync.Mutex
	won, lost := 0, 0
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i, in := range ins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(i)))
			for range perInstance {
				p := replPaths[rng.IntN(len(replPaths))]
				err := in.r.Update(ctx, p, randomValue(rng, p))
				mu.Lock()
				if err == nil {
					won++
				} else {
					require.ErrorIs(t, err, foundation.ErrVersionConflict)
					lost++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	require.Equal(t, 3*perInstance, won+lost)
	t.Logf("%d updates won, %d lost with ErrVersionConflict", won, lost)
	final := converged(t, ins...)

	// The values are the bucket's.
	_, js := connect(t, s.ClientURL())
	kv, err := js.KeyValue(ctx, "cfg")
	require.NoError(t, err)
	for _, p := range replPaths {
		e, err := kv.Get(ctx, p)
		require.NoError(t, err)
		for _, in := range ins {
			require.Equal(t, e.Revision(), in.r.Revision(p), p)
		}
	}
	t.Logf("converged on %v", final)
	var pub uint64
	for _, in := range ins {
		st := in.r.Stats()
		pub += st.Published
		require.Zero(t, st.Rejected)
	}
	require.GreaterOrEqual(t, pub, uint64(won))
}

func TestReplicatorConflict(t *testing.T) {
	s := startServer(t, server.Options{})
	_, js1 := connect(t, s.ClientURL())
	_, js2 := connect(t, s.ClientURL())
	a := newInstance(t, js1, fnats.ReplicatorConfig{})
	b := newInstance(t, js2, fnats.ReplicatorConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const path = "ai.planning.sampling_rate"

	// b read its config at version vb; a updates; b's update based on vb
	// loses, whether or not a's value has arrived yet.
	vb := b.f.Config().Get().Version()
	require.NoError(t, a.r.Update(ctx, path, 0.25))
	err := b.r.CompareAndUpdate(ctx, vb, path, 0.75)
	require.ErrorIs(t, err, foundation.ErrVersionConflict)
	require.Equal(t, 0.25, converged(t, a, b)[path])

	// A writer whose view of the key is stale loses at the bucket: a
	// third party writes behind the replicators' back... through a, while
	// b's watch is the only way b learns of it. b's Update wins only once
	// it has seen a's revision.
	require.NoError(t, a.r.Update(ctx, path, 0.5))
	require.Eventually(t, func() bool { return b.r.Revision(path) == a.r.Revision(path) }, 10*time.Second, time.Millisecond)
	require.NoError(t, b.r.Update(ctx, path, 0.125))
	require.Equal(t, 0.125, converged(t, a, b)[path])
	require.Positive(t, b.r.Stats().Conflicts)

	// Validation is the ConfigService's, before anything is written.
	rev := a.r.Revision(path)
	require.ErrorIs(t, a.r.Update(ctx, path, 1.5), foundation.ErrRange)
	require.ErrorIs(t, a.r.Update(ctx, path, 1.5), foundation.ErrValidation)
	require.ErrorIs(t, a.r.Update(ctx, "capture.processing.batch_size", "many"), foundation.ErrTypeMismatch)
	require.ErrorIs(t, a.r.Update(ctx, "storage.hot.max_events", 5), foundation.ErrUpdateForbidden)
	require.Equal(t, rev, a.r.Revision(path))

	// Durations and bools round trip with their types.
	require.NoError(t, a.r.Update(ctx, "interface.query_timeout", "1500ms"))
	require.NoError(t, a.r.Update(ctx, "dev.debug_mode", true))
	got := converged(t, a, b)
	require.Equal(t, 1500*time.Millisecond, got["interface.query_timeout"])
	require.Equal(t, true, got["dev.debug_mode"])
	require.Equal(t, 1500*time.Millisecond, b.f.Config().Get().Config().Interface.QueryTimeout)

	// A late instance starts with the bucket's values.
	_, js3 := connect(t, s.ClientURL())
	c := newInstance(t, js3, fnats.ReplicatorConfig{})
	require.Equal(t, got, c.values(t))

	// Close stops it: Update fails, local config keeps working.
	require.NoError(t, c.r.Close())
	require.ErrorIs(t, c.r.Update(ctx, path, 0.1), foundation.ErrClosed)
	require.NoError(t, c.f.Config().Update(path, 0.1))
}

// TestReplicatorOutage stops the server: health degrades with a reason,
// Update fails within its deadline, local config keeps working; after the
// restart health recovers and replication resumes.
func TestReplicatorOutage(t *testing.T) {
	opts := server.Options{Port: freePort(t), StoreDir: t.TempDir()}
	s := startServer(t, opts)
	_, js1 := connect(t, url(opts.Port))
	_, js2 := connect(t, url(opts.Port))
	a := newInstance(t, js1, fnats.ReplicatorConfig{Paths: replPaths})
	b := newInstance(t, js2, fnats.ReplicatorConfig{Paths: replPaths})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const path = "ai.planning.sampling_rate"
	require.Equal(t, foundation.StatusRunning, a.f.Health().Status)

	stopServer(s)
	require.Eventually(t, func() bool { return a.f.Health().Components["nats"].Status == foundation.StatusDegraded },
		10*time.Second, time.Millisecond)
	require.Contains(t, a.f.Health().Components["nats"].Reason, "unreachable")
	short, cancelShort := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancelShort()
	require.Error(t, a.r.Update(short, path, 0.3))
	require.NoError(t, a.f.Config().Update("dev.verbose_logging", true)) // local config works (not replicated here)
	require.NotEqual(t, 0.3, a.f.Config().Get().Config().AI.Planning.SamplingRate)

	startServer(t, opts)
	require.Eventually(t, func() bool { return a.f.Health().Status == foundation.StatusRunning }, 10*time.Second, time.Millisecond)
	require.EventuallyWithT(t, func(c *assert.CollectT) { assert.NoError(c, a.r.Update(ctx, path, 0.3)) },
		10*time.Second, 10*time.Millisecond)
	require.Equal(t, 0.3, converged(t, a, b)[path])
}

// TestReplicatorCluster runs a 3-node JetStream cluster with an R3 bucket,
// stops a node, and checks that config keeps replicating.
func TestReplicatorCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster: slow")
	}
	const nodes = 3
	ports := make([]int, nodes)
	cports := make([]int, nodes)
	servers := make([]*server.Server, nodes)
	// The ports are free when chosen, but a node's outgoing route
	// connection (an ephemeral port) can take one before its node listens:
	// then that node is never ready, and the cluster starts again on other
	// ports (at most 3 tries).
	for try := 1; ; try++ {
		var routes string
		for i := range nodes {
			ports[i], cports[i] = freePort(t), freePort(t)
			if i > 0 {
				routes += ","
			}
			routes += fmt.Sprintf("nats://127.0.0.1:%d", cports[i])
		}
		var err error
		for i := range nodes {
			servers[i], err = tryStartServer(t, server.Options{
				ServerName: fmt.Sprintf("n%d", i+1), Port: ports[i],
				Cluster: server.ClusterOpts{Name: "fleet", Host: "127.0.0.1", Port: cports[i]},
				Routes:  server.RoutesFromStr(routes),
			})
			if err != nil {
				break
			}
		}
		if err == nil {
			break
		}
		for _, s := range servers {
			if s != nil {
				stopServer(s)
			}
		}
		clear(servers)
		if try == 3 {
			t.Fatalf("cluster: %v (3 tries)", err)
		}
		t.Logf("cluster try %d: %v; again on other ports", try, err)
	}
	all := fmt.Sprintf("%s,%s,%s", url(ports[0]), url(ports[1]), url(ports[2]))
	// a prefers node 1, b node 2; both know every node.
	_, jsa := connect(t, url(ports[0])+","+all)
	_, jsb := connect(t, url(ports[1])+","+all)
	cfg := fnats.ReplicatorConfig{Bucket: "fleet_cfg", Replicas: 3, Paths: replPaths}
	// The cluster needs a meta leader before it can create an R3 bucket.
	var a instance
	require.Eventually(t, func() bool {
		f, err := foundation.New(foundation.WithEventCapacity(1000))
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r, err := fnats.NewReplicator(ctx, f, jsa, cfg)
		if err != nil {
			f.Close()
			return false
		}
		a = instance{f, r}
		return true
	}, time.Minute, 100*time.Millisecond)
	t.Cleanup(func() { a.r.Close(); a.f.Close() })
	b := newInstance(t, jsb, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const path = "ai.planning.sampling_rate"
	require.NoError(t, a.r.Update(ctx, path, 0.2))
	require.Equal(t, 0.2, converged(t, a, b)[path])

	// Stop node 1, the one a is connected to: a fails over, the R3
	// bucket keeps a quorum of two.
	stopServer(servers[0])
	update := func(in instance, p string, v any) {
		require.Eventually(t, func() bool {
			c, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			return in.r.Update(c, p, v) == nil
		}, time.Minute, 50*time.Millisecond)
	}
	update(a, path, 0.4)
	require.Equal(t, 0.4, converged(t, a, b)[path])
	update(b, "capture.processing.batch_size", 321)
	require.Equal(t, 321, converged(t, a, b)["capture.processing.batch_size"])
}
