// Package segment is an embedded, append-only log of records on local disk:
// records are batched into blocks, each block compressed (zstd, gzip or
// none) and checksummed, blocks appended to segment files, and each sealed
// segment indexed. It knows nothing of what the records mean: a record is a
// time, a few 64-bit keys and bytes.
//
// Every exported method is safe for concurrent use. The package keeps no
// global state and starts no goroutines (the zstd coder runs on the
// caller's goroutine).
//
// # Writing
//
// [Log.Append] numbers a record (1, 2, 3, ...) and adds it to the pending
// block; when the block's raw size reaches [Config.BlockSize] it is
// compressed, checksummed (CRC-32C), written and fsynced before Append
// returns. [Log.Flush] writes a partial block. A record is durable once the
// call that wrote its block returned nil. A failed write or fsync (full disk,
// I/O error, directory deleted) fails the call with [ErrWrite] and the OS
// error, cuts the file back and leaves the records pending: nothing changed.
// If the file cannot be cut back, the log refuses writes ([ErrFailed]) until
// it is reopened, which cuts the partial block off. [Log.Health] tells the
// last failure.
//
// A segment is sealed when it would grow past [Config.SegmentSize], or by
// [Log.Seal]: its index (per block: offset, sequence range, min and max time,
// and a bloom filter of the keys) is written beside it. [Config.MaxBytes]
// bounds the directory: the oldest sealed segments are deleted first, and
// counted in [Stats].
//
// # Reading
//
// [Log.Scan] yields the records a [Query] selects (a sequence range, a time
// range, a key) in sequence order, pending ones included. Blocks whose
// sequence or time range or key filter rules them out are not read. Scans
// run concurrently with writers and see the log as it was when they began.
//
// # Deleting
//
// [Log.DeleteBefore] and [Log.DeleteBeforeTime] move a low-water mark,
// written durably to the directory, that hides older records at once; whole
// segments below it are deleted.
//
// # Crashes and damage
//
// [Open] takes a flock on the directory ([ErrLocked] for a second opener,
// in any process), then checks the last segment block by block: a torn tail
// is cut. A damaged block followed by intact ones is not dropped silently:
// the intact blocks are copied to a new file and the damaged file is kept as
// <name>.corrupt. A missing or damaged index is rebuilt from its segment.
// Sealed segments are trusted by their index, so opening is quick at any
// size; a block damaged later is reported by Scan ([ErrCorrupt]) and
// repaired at the next Open. Everything found is in [Log.Recovery].
//
// Files are private (directory 0700, files 0600), opened with O_NOFOLLOW,
// created with O_EXCL, and anything but a regular file where the log
// expects one is refused ([ErrDir]).
//
// # Caps
//
// A record's data is at most [MaxRecordBytes] and it has at most [MaxKeys]
// keys ([ErrTooLarge]). [Config] documents the range of every size; a
// decoder never allocates more than a block's capped raw size.
//
// # Example
//
//	import "github.com/elixirscope-go/foundation/segment"
//
//	l, err := segment.Open(dir, segment.Config{Codec: segment.Zstd, MaxBytes: 100 << 20})
//	if err != nil {
//		return err
//	}
//	defer l.Close()
//	rec := segment.Record{Time: now, Keys: []uint64{segment.Key("user-7")}, Data: payload}
//	if _, err := l.Append(rec); err != nil {
//		return err
//	}
//	if err := l.Flush(); err != nil { // durable from here
//		return err
//	}
//	for r, err := range l.Scan(segment.Query{Key: segment.Key("user-7")}) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(r.Seq, string(r.Data))
//	}
package segment

// doccheck: what the package doc's example assumes (docs_test.go in the
// repository root builds it).
//
//	var dir string
//	var now int64
//	var payload []byte
