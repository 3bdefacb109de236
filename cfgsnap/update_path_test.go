package cfgsnap

import (
	"errors"
	"math"
	"sync"
	"testing"
	"time"
)

// Every Change's Old is the value the field held in the version before,
// whether it comes from the box the last update stored (field.swap) or a
// new one: after a refused candidate (its box was remembered, its value
// never published), after UpdateFunc, Reset and UpdateMany changed the
// field behind the remembered box, for 0 and -0, and for every exact type.
func TestChangeOldIsThePreviousValue(t *testing.T) {
	st := open(t, Config[testCfg]{Validate: validPair})
	type step struct {
		path  string
		value any
		ok    bool
	}
	negZero := math.Copysign(0, -1)
	steps := []step{
		{"rate", 0.25, true}, {"rate", 0.5, true}, {"rate", 2.0, false}, {"rate", 0.75, true},
		{"rate", negZero, true}, {"rate", 0.0, true}, {"rate", negZero, true}, {"rate", 1, true},
		{"count", 5, true}, {"count", 1 << 40, true}, {"count", 1 << 40, true}, {"count", 2.0, true},
		{"debug", true, true}, {"debug", false, true},
		{"timeout", time.Minute, true}, {"timeout", "2s", true}, {"timeout", time.Minute, true},
		{"name", "a", true}, {"name", "b", true}, {"name", "b", true},
		{"mode", "fast", true}, {"mode", mode("thorough"), true},
		{"pair.a", int64(3), false},
	}
	prev := map[string]any{}
	for _, p := range []string{"rate", "count", "debug", "timeout", "name", "mode"} {
		v, _ := st.Lookup(p)
		prev[p] = v
	}
	check := func(i int, ch Change, path string) {
		t.Helper()
		want := prev[path]
		if f, ok := want.(float64); ok {
			if got := ch.Old.(float64); math.Float64bits(got) != math.Float64bits(f) {
				t.Fatalf("step %d %s: Old %v, want %v", i, path, got, f)
			}
		} else if ch.Old != want {
			t.Fatalf("step %d %s: Old %#v, want %#v", i, path, ch.Old, want)
		}
		v, _ := st.Lookup(path)
		prev[path] = v
	}
	for round := 0; round < 3; round++ {
		for i, s := range steps {
			ch, err := st.Update(s.path, s.value)
			if (err == nil) != s.ok {
				t.Fatalf("step %d %s=%v: err %v", i, s.path, s.value, err)
			}
			if err == nil {
				check(i, ch, s.path)
			}
		}
		// Changes that bypass the remembered boxes.
		if _, err := st.UpdateFunc(func(c *testCfg) error { c.Rate, c.Count, c.Name = 0.125, 77, "f"; return nil }); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"rate", "count", "name"} {
			prev[p], _ = st.Lookup(p)
		}
		chs, err := st.UpdateMany(map[string]any{"rate": 0.375, "count": 9, "name": "m"})
		if err != nil {
			t.Fatal(err)
		}
		for i, ch := range chs {
			check(100+i, ch, ch.Path)
		}
		if _, err := st.Reset(); err != nil {
			t.Fatal(err)
		}
		for p := range prev {
			prev[p], _ = st.Lookup(p)
		}
	}
}

// Concurrent writers of one field: each Change's Old is its own version's
// predecessor's value (the remembered box is shared by every writer).
func TestChangeOldConcurrent(t *testing.T) {
	st := open(t, Config[testCfg]{})
	sub := st.Subscribe(1 << 16)
	const writers, each = 4, 500
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if _, err := st.Update("count", 1000+w*each+i); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	last := any(defaults().Count)
	for i := 0; i < writers*each; i++ {
		ch := <-sub.C()
		if ch.Old != last {
			t.Fatalf("version %d: Old %v, want %v", ch.Version, ch.Old, last)
		}
		last = ch.New
	}
}

// An update of a field with a value of its own type allocates only its
// share of a block of snapshots: less than one allocation per update.
func TestUpdateAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	st := open(t, Config[testCfg]{Validate: validPair})
	vals := [2]any{0.5, 0.25}
	i := 0
	if n := testing.AllocsPerRun(1200, func() {
		i++
		if _, err := st.Update("rate", vals[i&1]); err != nil {
			t.Fatal(err)
		}
	}); n >= 1 {
		t.Fatalf("Update allocates %v times", n)
	}
}

// Snapshots handed out from one block are distinct, and a refused
// candidate's snapshot is never published.
func TestSnapshotBlocks(t *testing.T) {
	st := open(t, Config[testCfg]{Validate: validPair})
	seen := map[*Snapshot[testCfg]]uint64{}
	for i := 0; i < 5*st.perBlock; i++ {
		if i%3 == 0 {
			if _, err := st.Update("rate", 5.0); err == nil {
				t.Fatal("invalid rate accepted")
			}
		}
		ch, err := st.Update("count", i)
		if err != nil {
			t.Fatal(err)
		}
		s := st.Load()
		if v, dup := seen[s]; dup {
			t.Fatalf("snapshot of version %d reused for version %d", v, ch.Version)
		}
		seen[s] = ch.Version
		if s.Version() != ch.Version || s.Ptr().Count != i || s.Ptr().Rate != 0.5 {
			t.Fatalf("version %d: %+v", ch.Version, *s.Ptr())
		}
	}
	for s, v := range seen { // every published snapshot unchanged
		if s.Version() != v || s.Ptr().Count != int(v-1) {
			t.Fatalf("snapshot of version %d changed: version %d, count %d", v, s.Version(), s.Ptr().Count)
		}
	}
}

// Update runs Config.ValidatePath's check of its path; a path without one,
// UpdateMany, UpdateFunc and Reset run Validate. A refusal by the check
// changes nothing.
func TestValidatePath(t *testing.T) {
	var whole, byPath int
	validate := func(c *testCfg) error { whole++; return validPair(c) }
	st := open(t, Config[testCfg]{
		Validate: validate,
		ValidatePath: func(path string) func(*testCfg) error {
			if path != "rate" {
				return nil
			}
			return func(c *testCfg) error {
				byPath++
				if c.Rate < 0 || c.Rate > 1 {
					return validate(c)
				}
				return nil
			}
		},
	})
	whole = 0
	if _, err := st.Update("rate", 0.25); err != nil || byPath != 1 || whole != 0 {
		t.Fatalf("Update of rate: %v, %d path checks, %d Validate", err, byPath, whole)
	}
	if _, err := st.Update("rate", 1.5); err == nil || byPath != 2 || whole != 1 || st.Load().Ptr().Rate != 0.25 {
		t.Fatalf("refused Update of rate: %v, %d path checks, %d Validate, rate %v", err, byPath, whole, st.Load().Ptr().Rate)
	}
	if _, err := st.Update("count", 3); err != nil || byPath != 2 || whole != 2 {
		t.Fatalf("Update of count: %v, %d path checks, %d Validate", err, byPath, whole)
	}
	if _, err := st.UpdateMany(map[string]any{"rate": 0.5}); err != nil || byPath != 2 || whole != 3 {
		t.Fatalf("UpdateMany: %v, %d path checks, %d Validate", err, byPath, whole)
	}
	if _, err := st.UpdateFunc(func(c *testCfg) error { c.Rate = 0.75; return nil }); err != nil || byPath != 2 || whole != 4 {
		t.Fatalf("UpdateFunc: %v, %d path checks, %d Validate", err, byPath, whole)
	}
	if _, err := st.Reset(); err != nil || byPath != 2 || whole != 5 {
		t.Fatalf("Reset: %v, %d path checks, %d Validate", err, byPath, whole)
	}
	// Without Validate, ValidatePath is not used.
	st2 := open(t, Config[testCfg]{ValidatePath: func(string) func(*testCfg) error {
		return func(*testCfg) error { return errors.New("never") }
	}})
	if _, err := st2.Update("rate", 0.25); err != nil {
		t.Fatal(err)
	}
}

// UpdateManyInto returns the changes in the caller's slice when it has
// room, and they are UpdateMany's.
func TestUpdateManyInto(t *testing.T) {
	st := open(t, Config[testCfg]{Validate: validPair})
	buf := make([]Change, 0, 4)
	for i := 0; i < 3; i++ {
		chs, err := st.UpdateManyInto(buf, map[string]any{"rate": float64(i) / 4, "count": i, "name": "n"})
		if err != nil {
			t.Fatal(err)
		}
		if len(chs) != 3 || &chs[0] != &buf[:1][0] {
			t.Fatalf("%d changes, in the caller's array: %v", len(chs), len(chs) > 0 && &chs[0] == &buf[:1][0])
		}
		for j, p := range []string{"count", "name", "rate"} {
			if chs[j].Path != p || chs[j].Version != uint64(i+1) {
				t.Fatalf("change %d: %+v", j, chs[j])
			}
		}
		if chs[2].New != float64(i)/4 {
			t.Fatalf("rate: %+v", chs[2])
		}
	}
	small := make([]Change, 0, 1) // too small: a new slice
	chs, err := st.UpdateManyInto(small, map[string]any{"rate": 0.5, "count": 1})
	if err != nil || len(chs) != 2 || chs[0].Old != 2 || chs[1].Old != 0.5 {
		t.Fatalf("%+v %v", chs, err)
	}
}
