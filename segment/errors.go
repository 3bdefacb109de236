package segment

import "errors"

// Sentinel errors. Every error the package returns matches one of them with
// [errors.Is]; I/O failures wrap the OS error too, so errors.Is(err,
// syscall.ENOSPC) and errors.Is(err, fs.ErrPermission) work.
var (
	// ErrCorrupt: a block, an index or the low-water file failed its
	// checks. [Open] reports such damage in [Recovery] rather than
	// failing; [Log.Scan] yields it for a block that fails at read time.
	ErrCorrupt = errors.New("segment: corrupt data")
	// ErrLocked: the directory is held by another open [Log], in this
	// process or another.
	ErrLocked = errors.New("segment: directory locked")
	// ErrDir: the directory cannot be used: it is a symlink or not a
	// directory, a file in it is not a regular file, or an I/O error
	// occurred while opening it.
	ErrDir = errors.New("segment: unusable directory")
	// ErrWrite: a block or index could not be written or synced (full
	// disk, failed fsync, the directory deleted). The call changed
	// nothing: the records it was given are not in the log.
	ErrWrite = errors.New("segment: write failed")
	// ErrFailed: an earlier write failure could not be undone (the file
	// could not be cut back); the log refuses writes until reopened,
	// which cuts the damage off. Reads keep working.
	ErrFailed = errors.New("segment: log failed, reopen to recover")
	// ErrTooLarge: a record's data or key count exceeds its cap
	// ([MaxRecordBytes], [MaxKeys]).
	ErrTooLarge = errors.New("segment: record too large")
	// ErrConfig: a [Config] field is out of range.
	ErrConfig = errors.New("segment: invalid config")
	// ErrClosed: the log was closed.
	ErrClosed = errors.New("segment: log closed")
)
