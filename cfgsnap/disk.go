package cfgsnap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/elixirscope-go/foundation/internal/fsx"
)

// Directory layout:
//
//	LOCK                     flock'ed while a Store has the directory open
//	snap-<version>.cfg       snapshot at version (20-digit zero-padded)
//	wal-<start>.log          log segment; its first record has version start
//	*.tmp                    a snapshot being written; removed at Open
//	*.corrupt                a file that failed its checks, kept for inspection
//
// A snapshot is written every SnapshotEvery changes: temp file, fsync,
// rename, fsync the directory; then a new segment wal-<v+1>.log is started
// and files older than the previous snapshot are removed, so the newest two
// snapshots and the log since the older one always remain: a corrupt newest
// snapshot falls back to the previous one plus the log, losing nothing.

const (
	snapMagic  = "CFGSNAP1"
	snapHeader = 8 + 8 + 8 + 4 + 4 // magic, version, time, length, crc
	lockName   = "LOCK"
)

func snapName(v uint64) string { return fmt.Sprintf("snap-%020d.cfg", v) }
func segName(v uint64) string  { return fmt.Sprintf("wal-%020d.log", v) }

// listDir returns the snapshot versions and segment starts in dir, sorted
// ascending, and removes leftover temp files.
func listDir(dir string) (snaps, segs []uint64, err error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	for _, e := range ents {
		name := e.Name()
		switch {
		case strings.HasSuffix(name, ".tmp"):
			_ = os.Remove(filepath.Join(dir, name))
		case strings.HasPrefix(name, "snap-") && strings.HasSuffix(name, ".cfg"):
			if v, err := strconv.ParseUint(name[5:len(name)-4], 10, 64); err == nil {
				snaps = append(snaps, v)
			}
		case strings.HasPrefix(name, "wal-") && strings.HasSuffix(name, ".log"):
			if v, err := strconv.ParseUint(name[4:len(name)-4], 10, 64); err == nil {
				segs = append(segs, v)
			}
		}
	}
	sort.Slice(snaps, func(i, j int) bool { return snaps[i] < snaps[j] })
	sort.Slice(segs, func(i, j int) bool { return segs[i] < segs[j] })
	return snaps, segs, nil
}

// lockDir creates dir if missing (mode dmode; its parent fsynced), opens it (the store keeps
// the handle to notice a deleted directory), registers it in held and takes
// an exclusive, non-blocking flock on dir/LOCK.
func lockDir(dir string, dmode, fmode os.FileMode) (lock, dirf *os.File, key string, err error) {
	fail := func(err error) error { return &PathError{Op: "open", Path: dir, Err: ErrDir, Cause: err} }
	if err := fsx.MkdirAll(dir, dmode, nil); err != nil { // durable in its parent: what is acknowledged in it survives a crash
		return nil, nil, "", fail(err)
	}
	key, err = filepath.Abs(dir)
	if err != nil {
		return nil, nil, "", fail(err)
	}
	if _, busy := held.LoadOrStore(key, struct{}{}); busy {
		return nil, nil, "", &PathError{Op: "open", Path: dir, Err: ErrLocked, Cause: errors.New("open in this process")}
	}
	defer func() {
		if err != nil {
			held.Delete(key)
		}
	}()
	dirf, err = os.Open(dir)
	if err != nil {
		return nil, nil, "", fail(err)
	}
	if fi, err := dirf.Stat(); err != nil || !fi.IsDir() {
		dirf.Close()
		if err == nil {
			err = errors.New("not a directory")
		}
		return nil, nil, "", fail(err)
	}
	f, err := openExisting(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE)
	if err != nil {
		dirf.Close()
		return nil, nil, "", fail(err)
	}
	_ = f.Chmod(fmode)
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		dirf.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, nil, "", &PathError{Op: "open", Path: dir, Err: ErrLocked}
		}
		return nil, nil, "", fail(err)
	}
	return f, dirf, key, nil
}

func unlockDir(f *os.File) error { return fsx.Unlock(f) }

// encodeSnapshot returns the file image of a snapshot: magic, version,
// time, payload length, CRC-32C of everything after the magic but the CRC
// itself, then the payload (JSON of T).
func encodeSnapshot(version uint64, unixNano int64, payload []byte) []byte {
	b := make([]byte, snapHeader, snapHeader+len(payload))
	copy(b, snapMagic)
	binary.LittleEndian.PutUint64(b[8:], version)
	binary.LittleEndian.PutUint64(b[16:], uint64(unixNano))
	binary.LittleEndian.PutUint32(b[24:], uint32(len(payload)))
	b = append(b, payload...)
	crc := crc32.Update(crc32.Checksum(b[8:28], castagnoli), castagnoli, payload)
	binary.LittleEndian.PutUint32(b[28:], crc)
	return b
}

// decodeSnapshot checks a snapshot file image; errors wrap [ErrCorrupt].
func decodeSnapshot(b []byte) (version uint64, unixNano int64, payload []byte, err error) {
	if len(b) < snapHeader || string(b[:8]) != snapMagic {
		return 0, 0, nil, fmt.Errorf("snapshot header: %w", ErrCorrupt)
	}
	n := binary.LittleEndian.Uint32(b[24:])
	if uint64(len(b)-snapHeader) != uint64(n) {
		return 0, 0, nil, fmt.Errorf("snapshot length %d, have %d: %w", n, len(b)-snapHeader, ErrCorrupt)
	}
	payload = b[snapHeader:]
	crc := crc32.Update(crc32.Checksum(b[8:28], castagnoli), castagnoli, payload)
	if crc != binary.LittleEndian.Uint32(b[28:]) {
		return 0, 0, nil, fmt.Errorf("snapshot checksum: %w", ErrCorrupt)
	}
	return binary.LittleEndian.Uint64(b[8:]), int64(binary.LittleEndian.Uint64(b[16:])), payload, nil
}

// writeSnapshot writes image durably as snap-<v>.cfg: a new temp file
// (O_EXCL|O_NOFOLLOW), fsync, rename, fsync of the directory.
func (d *disk) writeSnapshot(v uint64, image []byte) error {
	final := snapName(v)
	tmp := final + ".tmp"
	_ = os.Remove(d.path(tmp)) // a leftover of a failed attempt (never followed: Remove unlinks a symlink itself)
	f, err := d.create(tmp, 0)
	if err != nil {
		return err
	}
	if err = d.fail("write", tmp); err == nil {
		_, err = f.Write(image)
	}
	if err == nil && !d.nosync {
		if err = d.fail("sync", tmp); err == nil {
			err = f.Sync()
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = d.rename(tmp, final)
	}
	if err != nil {
		_ = os.Remove(d.path(tmp))
		return err
	}
	return d.syncDir()
}

// quarantine renames a damaged file to <name>.corrupt so later opens skip
// it and the evidence is kept.
func (d *disk) quarantine(name string) error {
	return d.rename(name, name+".corrupt")
}
