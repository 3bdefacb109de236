package jsonl_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"log"
	"os"

	"github.com/elixirscope-go/foundation"
	"github.com/elixirscope-go/foundation/jsonl"
)

// A *jsonl.Sink[foundation.Event] is a foundation.Exporter: the
// Foundation hands it every stored event, in batches, and closes it on
// Close (after a last flush).
func ExampleNew() {
	dir, err := os.MkdirTemp("", "events")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	sink, err := jsonl.New[foundation.Event](dir, jsonl.WithRotateSize(16<<20), jsonl.WithKeepFiles(8))
	if err != nil {
		log.Fatal(err)
	}
	f, err := foundation.New(foundation.WithExporter(sink))
	if err != nil {
		log.Fatal(err)
	}
	for _, typ := range []string{"login", "logout"} {
		if _, err := f.Events().Store(foundation.Event{Type: typ}); err != nil {
			log.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}

	for _, path := range sink.Files() {
		fh, err := os.Open(path)
		if err != nil {
			log.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			var e foundation.Event
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				log.Fatal(err)
			}
			fmt.Println(e.ID, e.Type)
		}
		fh.Close()
	}
	// Output:
	// 1 login
	// 2 logout
}
