package nats_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/elixirscope-go/foundation"
	fnats "github.com/elixirscope-go/foundation/nats"
)

// Example runs two instances of a program against one NATS server (started
// in-process here; in production, `nats-server -js`): events are exported
// to a stream, and a config update on one instance reaches the other.
func Example() {
	dir := mustTempDir()
	defer os.RemoveAll(dir)
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true,
		StoreDir: dir, NoLog: true, NoSigs: true})
	if err != nil {
		panic(err)
	}
	s.Start()
	defer func() { s.Shutdown(); s.WaitForShutdown() }()
	s.ReadyForConnections(10 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	instance := func(name string) (*foundation.Foundation, *fnats.Replicator, func()) {
		nc, err := natsgo.Connect(s.ClientURL(), fnats.ReconnectOptions(250*time.Millisecond)...)
		if err != nil {
			panic(err)
		}
		js, _ := jetstream.New(nc)
		exp, err := fnats.NewExporter(ctx, js, fnats.ExporterConfig{Source: name})
		if err != nil {
			panic(err)
		}
		f, err := foundation.New(foundation.WithExporter(exp))
		if err != nil {
			panic(err)
		}
		rep, err := fnats.NewReplicator(ctx, f, js, fnats.ReplicatorConfig{Origin: name})
		if err != nil {
			panic(err)
		}
		return f, rep, func() { rep.Close(); f.Close(); nc.Close() }
	}
	a, repA, closeA := instance("a")
	defer closeA()
	b, _, closeB := instance("b")
	defer closeB()

	sub := b.Config().Subscribe()
	defer sub.Close()
	if err := repA.Update(ctx, "ai.planning.sampling_rate", 0.25); err != nil {
		panic(err)
	}
	ch := <-sub.C()
	fmt.Println("b sees", ch.Path, "=", ch.New)
	fmt.Println("b reads", b.Config().Get().Config().AI.Planning.SamplingRate)

	// The config_updated events of both instances are in the stream.
	for a.Events().Stats().Exported == 0 || b.Events().Stats().Exported == 0 {
		time.Sleep(time.Millisecond)
	}
	fmt.Println("health:", a.Health().Components["nats"].Status)
	// Output:
	// b sees ai.planning.sampling_rate = 0.25
	// b reads 0.25
	// health: running
}
