package cfgsnap

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// The index finds exactly the allowed paths: every one of them, and no
// other string (near misses of the same length, prefix or suffix, short
// and empty strings, random ones), agreeing with the schema's map.
func TestPathIndex(t *testing.T) {
	for _, updatable := range [][]string{nil, {"rate"}, {"count", "debug", "pair.a", "pair.b", "custom_name"}} {
		st := open(t, Config[testCfg]{Updatable: updatable})
		if st.index.slots == nil {
			t.Fatalf("%v: no index", updatable)
		}
		var probes []string
		for p := range st.schema.fields {
			probes = append(probes, p, p+"x", p[:len(p)-1], "x"+p[1:], p[:len(p)-1]+"x", strings.ToUpper(p), "."+p)
		}
		probes = append(probes, "", "a", "pair", "pair.", "pair.c", "custom_namf", strings.Repeat("x", 2000))
		r := rand.New(rand.NewPCG(1, 2))
		for i := 0; i < 10000; i++ {
			b := make([]byte, r.IntN(20))
			for j := range b {
				b[j] = "abcdemnoprtu._"[r.IntN(14)]
			}
			probes = append(probes, string(b))
		}
		for _, p := range probes {
			got, ok := st.index.lookup(p)
			want := st.schema.fields[p]
			if want != nil && !want.updatable {
				want = nil
			}
			if !ok || got != want {
				t.Fatalf("%v: lookup(%q) = %v, %v; the map has %v", updatable, p, got, ok, want)
			}
		}
	}
}

// Paths the hash cannot tell apart (same length, same first and last 8
// bytes) leave the index empty: lookups go to the map.
func TestPathIndexFallback(t *testing.T) {
	var fields []*field
	for _, p := range []string{"abcdefgh.x.stuvwxyz", "abcdefgh.y.stuvwxyz"} {
		fields = append(fields, &field{path: p})
	}
	x := newPathIndex(fields)
	if x.slots != nil {
		t.Fatal("an index for colliding paths")
	}
	if f, ok := x.lookup("abcdefgh.x.stuvwxyz"); ok || f != nil {
		t.Fatal("lookup in an empty index")
	}
}

// The config schemas of this module's users have tens of paths: the
// search finds a multiplier for a hundred distinct ones.
func TestPathIndexMany(t *testing.T) {
	var fields []*field
	for i := 0; i < 100; i++ {
		p := "section_" + string(rune('a'+i%26)) + ".sub.key_" + strings.Repeat("k", i/26) + string(rune('a'+i%26))
		fields = append(fields, &field{path: p})
	}
	x := newPathIndex(fields)
	if x.slots == nil {
		t.Fatal("no multiplier found")
	}
	for _, f := range fields {
		if got, ok := x.lookup(f.path); !ok || got != f {
			t.Fatalf("lookup(%q) = %v", f.path, got)
		}
	}
}
