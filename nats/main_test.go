package nats_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	fnats "github.com/elixirscope-go/foundation/nats"
)

func TestMain(m *testing.M) {
	// Every server is shut down (WaitForShutdown) and every connection
	// closed by the test that made it, so nothing needs ignoring.
	goleak.VerifyTestMain(m)
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startServer starts a JetStream server in-process with opts (Host,
// JetStream, a quiet log and NoSigs filled in) and stops it at the end of
// the test.
func startServer(t testing.TB, opts server.Options) *server.Server {
	t.Helper()
	s, err := tryStartServer(t, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// tryStartServer is startServer returning its failure (a server not ready
// in 10 s) instead of ending the test, for callers that retry with other
// ports.
func tryStartServer(t testing.TB, opts server.Options) (*server.Server, error) {
	t.Helper()
	opts.Host = "127.0.0.1"
	opts.JetStream = true
	opts.NoLog, opts.NoSigs = true, true
	if opts.StoreDir == "" {
		opts.StoreDir = t.TempDir()
	}
	if opts.Port == 0 {
		opts.Port = -1
	}
	s, err := server.NewServer(&opts)
	if err != nil {
		return nil, err
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, errors.New("nats server not ready")
	}
	t.Cleanup(func() { stopServer(s) })
	return s, nil
}

func stopServer(s *server.Server) {
	s.Shutdown()
	s.WaitForShutdown()
}

// connect connects to urls (comma separated) with the package's reconnect
// options and closes the connection at the end of the test.
func connect(t testing.TB, urls string) (*natsgo.Conn, jetstream.JetStream) {
	t.Helper()
	opts := append(fnats.ReconnectOptions(20*time.Millisecond), natsgo.Timeout(2*time.Second),
		natsgo.ErrorHandler(func(*natsgo.Conn, *natsgo.Subscription, error) {}))
	nc, err := natsgo.Connect(urls, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

func url(port int) string { return fmt.Sprintf("nats://127.0.0.1:%d", port) }

func mustTempDir() string {
	dir, err := os.MkdirTemp("", "nats-example")
	if err != nil {
		panic(err)
	}
	return dir
}
