package shard

// Continuation resumes a Select where the previous call stopped, like the
// continuation that ets:select/3 returns. A nil *Continuation starts a new
// scan; a nil one returned means the scan is over ('$end_of_table').
//
// A Continuation is immutable: resuming from the same one twice scans the same
// rest of the table again. It holds at most one shard's worth of pending
// matches (hash tables) or the last key returned (ordered tables), and is only
// valid for the table that returned it: any other table answers
// [ErrContinuation]. It is safe to pass between goroutines.
type Continuation[K, V any] struct {
	owner any            // the table that made it, compared by identity
	shard int            // hash tables: next shard to scan
	buf   []Object[K, V] // hash tables: matches of a scanned shard not yet returned (read-only)
	after K              // ordered tables: the last key returned
}

func checkSelect[K, V any](owner any, pred func(K, V) bool, limit int, c *Continuation[K, V]) error {
	if pred == nil {
		return ErrNilFunc
	}
	if limit < 0 {
		return ErrLimit
	}
	if c != nil && c.owner != owner {
		return ErrContinuation
	}
	return nil
}

// selectShards drives a limited Select over n shards: scan(i, dst) appends
// every match of shard i to dst. Each shard is scanned in one pass, and the
// matches beyond the limit wait in the continuation, so an object that stays
// in the table for the whole scan is returned exactly once.
func selectShards[K, V any](owner any, n, limit int, c *Continuation[K, V],
	scan func(i int, dst []Object[K, V]) []Object[K, V]) ([]Object[K, V], *Continuation[K, V]) {
	var out, pending []Object[K, V]
	i := 0
	if c != nil {
		i, pending = c.shard, c.buf
	}
	take := func(src []Object[K, V]) []Object[K, V] { // appends up to the limit, returns the rest
		if limit == 0 || len(out)+len(src) <= limit {
			out = append(out, src...)
			return nil
		}
		k := limit - len(out)
		out = append(out, src[:k]...)
		return src[k:]
	}
	pending = take(pending)
	for len(pending) == 0 && i < n && (limit == 0 || len(out) < limit) {
		m := scan(i, nil)
		i++
		pending = take(m)
	}
	if len(pending) == 0 && i >= n {
		return out, nil
	}
	return out, &Continuation[K, V]{owner: owner, shard: i, buf: pending}
}
