package segment

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// Directory layout:
//
//	LOCK                     flock'ed while a Log has the directory open
//	<first seq, 20 digits>.seg   a segment: blocks, back to back
//	<first seq, 20 digits>.idx   its index, written when it is sealed
//	LOW                      the low-water mark (sequence and time)
//	*.tmp                    a file being written; removed at Open
//	*.corrupt                a damaged segment set aside, kept for inspection
const (
	lockName = "LOCK"
	lowName  = "LOW"
	segExt   = ".seg"
	idxExt   = ".idx"
)

// Caps and defaults of [Config].
const (
	DefaultBlockSize   = 64 << 10
	MinBlockSize       = 1 << 10
	MaxBlockSize       = 8 << 20
	DefaultSegmentSize = 64 << 20
	MinSegmentSize     = 64 << 10
	MaxSegmentSize     = 256 << 20
	MinMaxBytes        = 4 * MinSegmentSize
)

// Config sets up a [Log]. The zero value is usable: no compression, 64 KiB
// blocks, 64 MiB segments, unbounded size, fsync on every block.
type Config struct {
	// Codec compresses each block.
	Codec Codec
	// BlockSize is the raw (uncompressed) size at which a block is
	// written; 0 means [DefaultBlockSize]. Range [MinBlockSize,
	// MaxBlockSize]. A block also ends at [Log.Flush].
	BlockSize int
	// SegmentSize is the size on disk at which a segment is sealed and a
	// new one started; 0 means [DefaultSegmentSize]. Range
	// [MinSegmentSize, MaxSegmentSize]. With MaxBytes set it is lowered to
	// MaxBytes/4 so that the bound is kept within a quarter.
	SegmentSize int64
	// MaxBytes bounds the directory's segments and indexes; 0 means
	// unbounded, else at least [MinMaxBytes]. When a write takes the total
	// over it, the oldest sealed segments are deleted (counted in
	// [Stats.DroppedSegments] and [Stats.DroppedRecords]).
	MaxBytes int64
	// NoSync skips fsync: a block is written but not synced, so a crash of
	// the machine (not of the process) may lose it. For tests and
	// benchmarks.
	NoSync bool

	fs fileSystem // nil: the OS
}

func (c *Config) normalize() error {
	if c.Codec > Zstd {
		return fmt.Errorf("%w: codec %d", ErrConfig, c.Codec)
	}
	if c.BlockSize == 0 {
		c.BlockSize = DefaultBlockSize
	}
	if c.BlockSize < MinBlockSize || c.BlockSize > MaxBlockSize {
		return fmt.Errorf("%w: block size %d not in [%d, %d]", ErrConfig, c.BlockSize, MinBlockSize, MaxBlockSize)
	}
	if c.SegmentSize == 0 {
		c.SegmentSize = DefaultSegmentSize
	}
	if c.SegmentSize < MinSegmentSize || c.SegmentSize > MaxSegmentSize {
		return fmt.Errorf("%w: segment size %d not in [%d, %d]", ErrConfig, c.SegmentSize, MinSegmentSize, MaxSegmentSize)
	}
	if c.MaxBytes != 0 {
		if c.MaxBytes < MinMaxBytes {
			return fmt.Errorf("%w: max bytes %d below %d", ErrConfig, c.MaxBytes, MinMaxBytes)
		}
		c.SegmentSize = min(c.SegmentSize, c.MaxBytes/4)
	}
	if c.fs == nil {
		c.fs = osFS{}
	}
	return nil
}

// Record is one entry of the log. Append ignores Seq and assigns it; Scan
// fills it.
type Record struct {
	// Seq is the record's sequence number: 1, 2, 3, ... in append order.
	Seq uint64
	// Time is the caller's timestamp (for example Unix nanoseconds); Scan
	// filters on it and blocks keep its min and max. Any order is allowed.
	Time int64
	// Keys are the record's lookup keys (see [Key]); a block's filter lets
	// a key query skip blocks that hold none of them. At most [MaxKeys].
	Keys []uint64
	// Data is the payload, at most [MaxRecordBytes].
	Data []byte
}

// Recovery reports what [Open] found and repaired.
type Recovery struct {
	// TornBytes were cut from the end of a segment: a block that was being
	// written when the process stopped.
	TornBytes int64
	// CorruptFiles are damaged segments renamed to <name>.corrupt; the
	// intact blocks they held were copied into a new file under the
	// original name, so nothing intact is dropped.
	CorruptFiles []string
	// LostBytes is the size of the damaged regions that could not be read.
	LostBytes int64
	// RebuiltIndexes counts segments whose index was missing or failed its
	// checks and was rebuilt from the blocks.
	RebuiltIndexes int
	// Problems describes each finding, one line each.
	Problems []string
}

// Stats are a log's counters; see [Log.Stats].
type Stats struct {
	Records         int64 // records in live segments and the pending block, hidden ones included
	Segments        int   // segment files
	DiskBytes       int64 // segments and indexes on disk
	RawBytes        int64 // uncompressed size of the records on disk
	Pending         int   // records appended but not yet written
	NextSeq         uint64
	LowSeq          uint64 // records below are hidden
	LowTime         int64  // records with an earlier Time are hidden
	DroppedSegments int64  // deleted to keep MaxBytes
	DroppedRecords  int64  // records in those segments
	CorruptBlocks   int64  // blocks that failed their checks when read
	WriteErrors     int64  // failed block, index or reclaim writes
}

// segment is one file. Its blocks slice only grows (under Log.mu), and a
// reader keeps the slice header it saw, so readers never lock it.
type segment struct {
	first     uint64
	path      string
	f         file
	refs      atomic.Int32 // the log's reference plus one per reading Scan; the file closes at 0
	blocks    []blockInfo
	filters   []byte // the active segment's filters, in block order; nil once sealed
	size      int64
	idxSize   int64
	sealed    bool
	filterOff int64 // sealed: the filter area in the index file
	filterLen int64
	filterCRC uint32
	records   int64
	raw       int64
}

func (s *segment) idxPath() string { return strings.TrimSuffix(s.path, segExt) + idxExt }

func (s *segment) release() {
	if s.refs.Add(-1) == 0 {
		_ = s.f.Close()
	}
}

func segFile(first uint64) string { return fmt.Sprintf("%020d%s", first, segExt) }

// Log is an append-only, segmented, compressed record log in one
// directory. All methods are safe for concurrent use: writers (Append,
// Flush, Seal, Delete*) serialize on one mutex; [Log.Scan] takes it briefly
// to see the current segments and then reads without it, concurrently with
// writers. A Log holds an open file per segment.
type Log struct {
	dir  string
	cfg  Config
	fs   fileSystem
	lock *os.File
	c    *codecs

	mu       sync.RWMutex
	segs     []*segment // oldest first; only the last may be unsealed
	w        blockWriter
	nextSeq  uint64
	lowSeq   uint64
	lowTime  int64
	failed   error
	lastErr  error
	closed   bool
	enc      []byte
	recovery Recovery

	dropSegs, dropRecs, corrupt, writeErrs atomic.Int64
}

// Open opens (creating if needed, 0700) the log in dir and takes an
// exclusive lock on it ([ErrLocked] if another Log, in any process, holds
// it). It repairs what a crash left: a torn tail is cut, a damaged segment
// is set aside as .corrupt after its intact blocks are copied out, a
// missing or bad index is rebuilt; see [Log.Recovery]. A symlink or a
// non-regular file where the log expects its files is [ErrDir]. Sealed
// segments are trusted by their index and read lazily, so opening is fast
// whatever the size (a block damaged later is reported by [Log.Scan]).
func Open(dir string, cfg Config) (*Log, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	if err := prepareDir(dir); err != nil {
		return nil, err
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	c, err := newCodecs()
	if err != nil {
		_ = unlockDir(lock)
		return nil, err
	}
	l := &Log{dir: dir, cfg: cfg, fs: cfg.fs, lock: lock, c: c, nextSeq: 1}
	if err := l.recover(); err != nil {
		for _, s := range l.segs {
			s.release()
		}
		c.Close()
		_ = unlockDir(lock)
		return nil, err
	}
	return l, nil
}

// Recovery returns what Open found and repaired.
func (l *Log) Recovery() Recovery {
	l.mu.RLock()
	defer l.mu.RUnlock()
	r := l.recovery
	r.CorruptFiles = append([]string(nil), r.CorruptFiles...)
	r.Problems = append([]string(nil), r.Problems...)
	return r
}

// Dir returns the log's directory.
func (l *Log) Dir() string { return l.dir }

// Append adds r to the pending block and returns its sequence number. When
// the block reaches BlockSize it is written (and synced) before Append
// returns; if that write fails, Append returns [ErrWrite] and r is not in
// the log (the records before it stay pending). Records are durable once
// [Log.Flush] returns nil. r's slices are copied. Data over
// [MaxRecordBytes] or more than [MaxKeys] keys is [ErrTooLarge].
func (l *Log) Append(r Record) (uint64, error) {
	if len(r.Data) > MaxRecordBytes || len(r.Keys) > MaxKeys {
		return 0, fmt.Errorf("%w: %d bytes, %d keys", ErrTooLarge, len(r.Data), len(r.Keys))
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writable(); err != nil {
		return 0, err
	}
	undo := l.w
	if l.w.count == 0 {
		l.w.reset(l.nextSeq)
		undo = l.w
	}
	seq := l.nextSeq
	l.w.add(r.Time, r.Keys, r.Data)
	l.nextSeq++
	if len(l.w.raw) >= l.cfg.BlockSize {
		if err := l.writeBlock(); err != nil {
			l.w, l.nextSeq = undo, seq
			return 0, err
		}
	}
	return seq, nil
}

func (l *Log) writable() error {
	if l.closed {
		return ErrClosed
	}
	return l.failed
}

// Flush writes the pending block, if any, and syncs it (unless NoSync).
// On error ([ErrWrite], [ErrFailed]) the records stay pending and a later
// Flush retries.
func (l *Log) Flush() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writable(); err != nil {
		return err
	}
	if l.w.count == 0 {
		return nil
	}
	return l.writeBlock()
}

// Seal flushes and seals the active segment: its index is written and the
// next record starts a new segment.
func (l *Log) Seal() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writable(); err != nil {
		return err
	}
	if l.w.count > 0 {
		if err := l.writeBlock(); err != nil {
			return err
		}
	}
	if s := l.active(); s != nil && len(s.blocks) > 0 {
		return l.seal(s)
	}
	return nil
}

func (l *Log) active() *segment {
	if n := len(l.segs); n > 0 && !l.segs[n-1].sealed {
		return l.segs[n-1]
	}
	return nil
}

// writeBlock encodes the pending block and appends it to the active
// segment, rotating first if it would grow past SegmentSize. On failure
// the file is cut back to its old size and the pending block is kept.
// Called with l.mu held.
func (l *Log) writeBlock() error {
	l.enc = l.w.encode(l.c, l.cfg.Codec, l.enc[:0])
	img := l.enc
	s := l.active()
	if s != nil && s.size > 0 && s.size+int64(len(img)) > l.cfg.SegmentSize {
		if err := l.seal(s); err != nil {
			return err
		}
		s = nil
	}
	if s == nil {
		var err error
		if s, err = l.create(l.w.firstSeq); err != nil {
			return err
		}
	}
	if err := l.appendImage(s, img); err != nil {
		return err
	}
	info := blockInfo{off: s.size, firstSeq: l.w.firstSeq, minTime: l.w.minTime, maxTime: l.w.maxTime,
		count: l.w.count, size: uint32(len(img)), rawLen: uint32(len(l.w.raw)), filterLen: filterLenOf(img)}
	s.filters = append(s.filters, img[headerSize:headerSize+info.filterLen]...)
	s.blocks = append(s.blocks, info)
	s.size += int64(len(img))
	s.records += int64(info.count)
	s.raw += int64(info.rawLen)
	l.w.reset(l.nextSeq)
	l.enforceSize()
	return nil
}

func filterLenOf(img []byte) uint32 { return binary.LittleEndian.Uint32(img[44:]) }

// appendImage writes img at the end of s and syncs it. On failure it cuts
// the file back; if that fails too, the log is marked failed.
func (l *Log) appendImage(s *segment, img []byte) error {
	_, err := s.f.WriteAt(img, s.size)
	if err == nil && !l.cfg.NoSync {
		err = s.f.Sync()
	}
	if err == nil {
		err = checkLinked(s)
	}
	if err != nil {
		l.writeErrs.Add(1)
		err = fmt.Errorf("%w: %s at %d: %w", ErrWrite, s.path, s.size, err)
		l.lastErr = err
		if terr := s.f.Truncate(s.size); terr != nil {
			l.failed = fmt.Errorf("%w: cutting %s back to %d: %w (after %w)", ErrFailed, s.path, s.size, terr, err)
			return l.failed
		}
		return err
	}
	l.lastErr = nil
	return nil
}

// checkLinked fails when the segment file no longer has a name (its
// directory was deleted): what was written to it is gone at the next open.
func checkLinked(s *segment) error {
	st, err := s.f.Stat()
	if err != nil {
		return err
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && sys.Nlink == 0 {
		return fmt.Errorf("segment file was unlinked (directory deleted?)")
	}
	return nil
}

// create starts a new, empty segment whose first record will be first.
func (l *Log) create(first uint64) (*segment, error) {
	path := filepath.Join(l.dir, segFile(first))
	f, err := l.fs.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil && !l.cfg.NoSync {
		if err = l.fs.SyncDir(l.dir); err != nil {
			_ = f.Close()
			_ = l.fs.Remove(path)
		}
	}
	if err != nil {
		l.writeErrs.Add(1)
		err = fmt.Errorf("%w: create %s: %w", ErrWrite, path, err)
		l.lastErr = err
		return nil, err
	}
	s := &segment{first: first, path: path, f: f}
	s.refs.Store(1)
	l.segs = append(l.segs, s)
	return s, nil
}

// seal writes s's index and marks it sealed.
func (l *Log) seal(s *segment) error {
	if !l.cfg.NoSync {
		if err := s.f.Sync(); err != nil {
			l.writeErrs.Add(1)
			l.lastErr = fmt.Errorf("%w: sync %s: %w", ErrWrite, s.path, err)
			return l.lastErr
		}
	}
	img := encodeIndex(s.blocks, s.filters, s.size)
	if renamed, err := writeFileAtomic(l.fs, l.dir, filepath.Base(s.idxPath()), img, l.cfg.NoSync); err != nil {
		if renamed {
			_ = l.fs.Remove(s.idxPath())
		}
		l.writeErrs.Add(1)
		l.lastErr = fmt.Errorf("%w: index %s: %w", ErrWrite, s.idxPath(), err)
		return l.lastErr
	}
	s.sealed, s.idxSize = true, int64(len(img))
	s.filterOff, s.filterLen = indexHeader+int64(len(s.blocks))*entrySize, int64(len(s.filters))
	s.filterCRC = crcOf(s.filters)
	s.filters = nil
	return nil
}

// enforceSize deletes the oldest sealed segments while the total is over
// MaxBytes.
func (l *Log) enforceSize() {
	if l.cfg.MaxBytes == 0 {
		return
	}
	total := int64(0)
	for _, s := range l.segs {
		total += s.size + s.idxSize
	}
	for total > l.cfg.MaxBytes && len(l.segs) > 1 && l.segs[0].sealed {
		s := l.segs[0]
		if err := l.remove(s); err != nil {
			return
		}
		total -= s.size + s.idxSize
		l.dropSegs.Add(1)
		l.dropRecs.Add(l.visible(s))
	}
}

// visible counts s's records at or above the low-water sequence.
func (l *Log) visible(s *segment) int64 {
	n := int64(0)
	for i := range s.blocks {
		b := &s.blocks[i]
		if b.endSeq() > l.lowSeq {
			n += int64(b.endSeq() - max(b.firstSeq, l.lowSeq))
		}
	}
	return n
}

// remove deletes the oldest segment s (segment file first, then its index;
// an index left alone is removed at Open).
func (l *Log) remove(s *segment) error {
	if err := l.fs.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		l.writeErrs.Add(1)
		l.lastErr = fmt.Errorf("%w: remove %s: %w", ErrWrite, s.path, err)
		return l.lastErr
	}
	_ = l.fs.Remove(s.idxPath())
	l.segs = l.segs[1:]
	s.release()
	return nil
}

// DeleteBefore hides every record with a sequence below seq at once, and
// reclaims the sealed segments that hold nothing else. The mark is durable
// (written and synced) before it returns. On error ([ErrWrite]) nothing
// changed, except when only the directory fsync after the rename failed:
// then the mark is in effect, as it would be after a restart, and the error
// says its durability is not confirmed.
func (l *Log) DeleteBefore(seq uint64) error {
	return l.setLow(seq, 0, true)
}

// DeleteBeforeTime hides every record whose Time is below t, and reclaims
// the sealed segments whose records are all older. Durable like
// [Log.DeleteBefore].
func (l *Log) DeleteBeforeTime(t int64) error {
	return l.setLow(0, t, false)
}

func (l *Log) setLow(seq uint64, t int64, bySeq bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writable(); err != nil {
		return err
	}
	ns, nt := l.lowSeq, l.lowTime
	if bySeq {
		ns = max(ns, seq)
	} else if t > nt {
		nt = t
	}
	if ns == l.lowSeq && nt == l.lowTime {
		return nil
	}
	renamed, err := writeFileAtomic(l.fs, l.dir, lowName, encodeLow(ns, nt), l.cfg.NoSync)
	if err != nil {
		l.writeErrs.Add(1)
		l.lastErr = fmt.Errorf("%w: low-water mark: %w", ErrWrite, err)
		if !renamed {
			return l.lastErr
		}
		// The new mark is in place but its directory entry is not known to
		// be durable: apply it, as the next open will, and report.
		err = l.lastErr
	}
	l.lowSeq, l.lowTime = ns, nt
	l.nextSeq = max(l.nextSeq, ns)
	if l.w.count == 0 {
		l.w.firstSeq = l.nextSeq
	}
	l.reclaim()
	return err
}

// reclaim removes the leading sealed segments every record of which is
// below the low-water mark.
func (l *Log) reclaim() {
	for len(l.segs) > 1 && l.segs[0].sealed {
		s := l.segs[0]
		last := &s.blocks[len(s.blocks)-1]
		below := last.endSeq() <= l.lowSeq
		if !below {
			below = true
			for i := range s.blocks {
				if s.blocks[i].maxTime >= l.lowTime {
					below = false
					break
				}
			}
		}
		if !below || l.remove(s) != nil {
			return
		}
	}
}

// Health returns the last write failure (a block, index, new segment,
// reclaim or low-water write), or nil once a later write succeeded; while
// the log is failed ([ErrFailed]) it returns that.
func (l *Log) Health() error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.failed != nil {
		return l.failed
	}
	return l.lastErr
}

// Stats returns the log's counters.
func (l *Log) Stats() Stats {
	l.mu.RLock()
	defer l.mu.RUnlock()
	st := Stats{Segments: len(l.segs), Pending: int(l.w.count), Records: int64(l.w.count),
		NextSeq: l.nextSeq, LowSeq: l.lowSeq, LowTime: l.lowTime,
		DroppedSegments: l.dropSegs.Load(), DroppedRecords: l.dropRecs.Load(),
		CorruptBlocks: l.corrupt.Load(), WriteErrors: l.writeErrs.Load()}
	for _, s := range l.segs {
		st.Records += s.records
		st.DiskBytes += s.size + s.idxSize
		st.RawBytes += s.raw
	}
	return st
}

// Close flushes the pending block, seals nothing (the active segment is
// verified at the next Open), closes the files and releases the lock.
// Scans still running keep their files open until they finish. Close
// returns the flush error, if any; a second Close returns nil.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	var err error
	if l.failed == nil && l.w.count > 0 {
		err = l.writeBlock()
	}
	l.closed = true
	for _, s := range l.segs {
		s.release()
	}
	l.segs = nil
	l.c.Close()
	if uerr := unlockDir(l.lock); err == nil {
		err = uerr
	}
	return err
}

func parseSegName(name string) (uint64, bool) {
	if len(name) != 20+len(segExt) || !strings.HasSuffix(name, segExt) {
		return 0, false
	}
	v, err := strconv.ParseUint(name[:20], 10, 64)
	return v, err == nil
}
