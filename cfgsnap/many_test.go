package cfgsnap

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestUpdateMany(t *testing.T) {
	st := open(t, Config[testCfg]{Validate: validPair})
	sub := st.Subscribe(16)
	chs, err := st.UpdateMany(map[string]any{"pair.a": 4, "pair.b": 4.0, "rate": 0.25})
	if err != nil {
		t.Fatal(err)
	}
	s := st.Load()
	if s.Version() != 1 || s.Ptr().Pair != (pair{4, 4}) || s.Ptr().Rate != 0.25 {
		t.Fatalf("after UpdateMany: version %d, %+v", s.Version(), *s.Ptr())
	}
	want := []Change{
		{Kind: Updated, Path: "pair.a", Old: int64(0), New: int64(4), Version: 1},
		{Kind: Updated, Path: "pair.b", Old: int64(0), New: int64(4), Version: 1},
		{Kind: Updated, Path: "rate", Old: 0.5, New: 0.25, Version: 1},
	}
	for i := range want {
		want[i].Time = chs[i].Time
		if got := <-sub.C(); !reflect.DeepEqual(got, want[i]) {
			t.Fatalf("subscriber change %d = %+v, want %+v", i, got, want[i])
		}
	}
	if !reflect.DeepEqual(chs, want) {
		t.Fatalf("returned %+v", chs)
	}

	// All or none: a single path would break the pair; a bad type; an unknown path.
	for _, c := range []struct {
		values map[string]any
		err    error
	}{
		{map[string]any{"pair.a": 5}, ErrInvalid},
		{map[string]any{"pair.a": 5, "pair.b": 5.5}, ErrTypeMismatch},
		{map[string]any{"pair.a": 5, "pair.b": 5, "nope": 1}, ErrForbidden},
		{map[string]any{"pair.a": 5, "pair.b": 5, "rate": 2.0}, ErrInvalid},
	} {
		if _, err := st.UpdateMany(c.values); !errors.Is(err, c.err) {
			t.Fatalf("%v: err %v, want %v", c.values, err, c.err)
		}
		if st.Load() != s {
			t.Fatal("a failed UpdateMany changed the snapshot")
		}
	}
	if chs, err := st.UpdateMany(nil); err != nil || chs != nil || st.Load() != s {
		t.Fatalf("empty UpdateMany: %v %v", chs, err)
	}
	select {
	case ch := <-sub.C():
		t.Fatalf("unexpected change %+v", ch)
	default:
	}
}

// A durable UpdateMany is one record, replayed all or none after a restart.
func TestUpdateManyDurable(t *testing.T) {
	dir := t.TempDir()
	st := openDir(t, dir, Config[testCfg]{})
	if _, err := st.UpdateMany(map[string]any{"pair.a": 7, "pair.b": 7, "timeout": "3s", "mode": "fast"}); err != nil {
		t.Fatal(err)
	}
	mustUpdate(t, st, "rate", 0.75)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = openDir(t, dir, Config[testCfg]{})
	defer st.Close()
	v := st.Load()
	if v.Version() != 2 || v.Ptr().Pair != (pair{7, 7}) || v.Ptr().Timeout != 3*time.Second || v.Ptr().Mode != "fast" || v.Ptr().Rate != 0.75 {
		t.Fatalf("recovered version %d: %+v", v.Version(), *v.Ptr())
	}
	if r := st.Recovery(); r.Replayed != 2 || len(r.Problems) > 0 {
		t.Fatalf("recovery %+v", r)
	}
}
