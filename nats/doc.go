// Package nats takes a [foundation.Foundation] beyond one machine with NATS
// JetStream: its events are archived in a stream, and its config is the
// same on every instance of a fleet.
//
// # Events
//
// [Exporter] is a [foundation.Exporter]: the event store hands it batches,
// it publishes them to a JetStream stream (one subject per event type, the
// message id derived from the event ID) and acknowledges a batch only once
// JetStream acknowledged every event. Retries re-publish with the same ids,
// which JetStream de-duplicates, so the stream holds each event exactly once
// across server restarts.
//
// # Config
//
// [Replicator] mirrors the ConfigService through a JetStream Key-Value
// bucket: [Replicator.Update] writes the bucket with optimistic locking on
// the key's revision (the loser of a race gets
// [foundation.ErrVersionConflict]) and a watch applies every instance's
// writes locally. Reads stay [foundation.ConfigService.Get]: one atomic
// load, never the network.
//
// # Health
//
// [WatchConn] reports the connection as a component of the Foundation's
// Health: degraded, with the reason, while the server is unreachable.
// Nothing blocks on the network without a deadline.
//
// # Program
//
//	nc, _ := natsgo.Connect(url, nats.ReconnectOptions(250*time.Millisecond)...)
//	js, _ := jetstream.New(nc)
//	exp, _ := nats.NewExporter(ctx, js, nats.ExporterConfig{Source: hostname})
//	f, _ := foundation.New(foundation.WithExporter(exp))
//	defer f.Close()
//	rep, _ := nats.NewReplicator(ctx, f, js, nats.ReplicatorConfig{})
//	defer rep.Close()
//	if err := rep.Update(ctx, "ai.planning.sampling_rate", 0.5); err != nil { // every instance
//		log.Print(err)
//	}
//	rate := f.Config().Get().Config().AI.Planning.SamplingRate // local read
//	fmt.Println(rate)
//
// Every exported function and method is safe for concurrent use.
package nats

// doccheck: what the package doc's program assumes (docs_test.go in the
// repository root builds it).
//
//	var ctx = context.Background()
//	var url = natsgo.DefaultURL
//	var hostname, _ = os.Hostname()
