package shard

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type traceLine struct {
	Op     string            `json:"op"`
	Args   []json.RawMessage `json:"args"`
	Result json.RawMessage   `json:"result"`
	Table  json.RawMessage   `json:"table"`
}

const endOfTable = "$end_of_table"

func decodeObj(raw json.RawMessage) obj {
	var pair [2]json.RawMessage
	must(json.Unmarshal(raw, &pair))
	var o obj
	must(json.Unmarshal(pair[0], &o.Key))
	must(json.Unmarshal(pair[1], &o.Value))
	return o
}

func decodeObjs(raw json.RawMessage) []obj {
	var list []json.RawMessage
	must(json.Unmarshal(raw, &list))
	out := []obj{}
	for _, r := range list {
		out = append(out, decodeObj(r))
	}
	return out
}

// asJSON renders a result the way the traces do: objects as [k, v].
func asJSON(v any) string {
	switch x := v.(type) {
	case []obj:
		pairs := make([][2]any, 0, len(x))
		for _, o := range x {
			pairs = append(pairs, [2]any{o.Key, o.Value})
		}
		v = pairs
	}
	b, err := json.Marshal(v)
	must(err)
	return string(b)
}

func canon(raw json.RawMessage) string {
	var v any
	must(json.Unmarshal(raw, &v))
	b, err := json.Marshal(v)
	must(err)
	return string(b)
}

func key(raw json.RawMessage) string {
	var s string
	must(json.Unmarshal(raw, &s))
	return s
}

func num(raw json.RawMessage) int {
	var n int
	must(json.Unmarshal(raw, &n))
	return n
}

func objsOf(k string, vs []int) []obj {
	out := []obj{}
	for _, v := range vs {
		out = append(out, obj{k, v})
	}
	return out
}

func orEnd(k string, ok bool) any {
	if !ok {
		return endOfTable
	}
	return k
}

// apply runs one trace operation and returns its result in the traces' terms.
func apply(t *testing.T, tb tut, op string, args []json.RawMessage) any {
	switch op {
	case "insert":
		o := decodeObj(args[0])
		tb.insert(o.Key, o.Value)
		return true
	case "insert_list":
		tb.insertList(decodeObjs(args[0]))
		return true
	case "insert_new":
		o := decodeObj(args[0])
		return tb.insertNew(o.Key, o.Value)
	case "insert_new_list":
		return tb.insertNewList(decodeObjs(args[0]))
	case "lookup", "match_object":
		k := key(args[0])
		return objsOf(k, tb.lookup(k))
	case "member":
		return tb.member(key(args[0]))
	case "delete":
		tb.delete(key(args[0]))
		return true
	case "delete_object":
		o := decodeObj(args[0])
		tb.deleteObject(o.Key, o.Value)
		return true
	case "take":
		k := key(args[0])
		return objsOf(k, tb.take(k))
	case "select_count":
		return tb.selectCount(num(args[0]))
	case "info_size":
		return tb.len()
	}
	if c, ok := tb.(counters); ok {
		switch op {
		case "update_counter":
			n, err := c.updateCounter(key(args[0]), num(args[1]))
			if errors.Is(err, ErrAbsent) {
				return map[string]string{"error": "badarg"}
			}
			return n
		case "update_counter_default":
			def := decodeObj(args[2]) // its key is ignored, as in ETS
			return c.updateCounterDefault(key(args[0]), num(args[1]), def.Value)
		case "update_element":
			return c.updateElement(key(args[0]), num(args[1]))
		}
	}
	if o, ok := tb.(osetT); ok {
		switch op {
		case "first":
			return orEnd(o.t.First())
		case "last":
			return orEnd(o.t.Last())
		case "next":
			return orEnd(o.t.Next(key(args[0])))
		case "prev":
			return orEnd(o.t.Prev(key(args[0])))
		case "traverse", "traverse_rev":
			keys := []string{}
			k, ok := o.t.First()
			step := o.t.Next
			if op == "traverse_rev" {
				k, ok = o.t.Last()
				step = o.t.Prev
			}
			for ; ok; k, ok = step(k) {
				keys = append(keys, k)
			}
			return keys
		}
	}
	t.Fatalf("op %q not supported", op)
	return nil
}

// TestETSConformance replays every recorded ETS trace in testdata/ets and
// checks every result and the whole table after every operation.
func TestETSConformance(t *testing.T) {
	files, err := filepath.Glob("testdata/ets/*.jsonl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no traces: %v", err)
	}
	for _, f := range files {
		base := filepath.Base(f)
		kind := base[:strings.LastIndex(base, "_seed")]
		t.Run(base, func(t *testing.T) {
			for _, shards := range []int{1, 3} {
				tb := newTUT(kind, WithShards(shards))
				data, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				sc := bufio.NewScanner(bytes.NewReader(data))
				sc.Buffer(nil, 1<<20)
				for n := 1; sc.Scan(); n++ {
					var l traceLine
					if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
						t.Fatalf("line %d: %v", n, err)
					}
					got := asJSON(apply(t, tb, l.Op, l.Args))
					if want := canon(l.Result); got != want {
						t.Fatalf("shards=%d line %d %s%s: result %s, ETS %s", shards, n, l.Op, canon(mustJSON(l.Args)), got, want)
					}
					if got, want := asJSON(tb.objects()), canon(l.Table); got != want {
						t.Fatalf("shards=%d line %d %s%s: table\n %s\nETS\n %s", shards, n, l.Op, canon(mustJSON(l.Args)), got, want)
					}
					if got, want := tb.len(), len(tb.objects()); got != want {
						t.Fatalf("line %d: Len %d, %d objects", n, got, want)
					}
				}
				must(sc.Err())
			}
		})
	}
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	must(err)
	return b
}
