package segment_test

import (
	"fmt"
	"log"
	"os"

	"github.com/elixirscope-go/foundation/segment"
)

func Example() {
	dir, err := os.MkdirTemp("", "segment-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	l, err := segment.Open(dir, segment.Config{Codec: segment.Zstd, MaxBytes: 100 << 20})
	if err != nil {
		log.Fatal(err)
	}
	users := []string{"ann", "bob", "ann", "cid"}
	for i, u := range users {
		_, err := l.Append(segment.Record{Time: int64(1000 + i), Keys: []uint64{segment.Key(u)},
			Data: []byte(fmt.Sprintf(`{"user":%q,"n":%d}`, u, i))})
		if err != nil {
			log.Fatal(err)
		}
	}
	if err := l.Flush(); err != nil { // durable from here
		log.Fatal(err)
	}
	if err := l.Close(); err != nil {
		log.Fatal(err)
	}

	// Reopen and query by key.
	l, err = segment.Open(dir, segment.Config{Codec: segment.Zstd})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	for r, err := range l.Scan(segment.Query{Key: segment.Key("ann")}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(r.Seq, r.Time, string(r.Data))
	}
	// Hide everything before sequence 3.
	if err := l.DeleteBefore(3); err != nil {
		log.Fatal(err)
	}
	for r := range l.Scan(segment.Query{}) {
		fmt.Println(r.Seq, string(r.Data))
	}
	// Output:
	// 1 1000 {"user":"ann","n":0}
	// 3 1002 {"user":"ann","n":2}
	// 3 {"user":"ann","n":2}
	// 4 {"user":"cid","n":3}
}
