package segment

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
)

// Index file layout (little endian), written when a segment is sealed:
//
//	 0 magic "SGI1"
//	 4 block count (u32)
//	 8 size of the segment file it describes (u64)
//	16 length of the filter area (u64)
//	24 CRC-32C of bytes 0..23 and the entries
//	28 CRC-32C of the filter area
//	32 entries, entrySize bytes each (see blockInfo)
//	   then the filter area: every block's bloom filter, in block order
//
// Open reads the header and the entries only; a key query reads the filter
// area of each segment it visits, with one read.
const (
	indexMagic  = "SGI1"
	indexHeader = 32
	entrySize   = 48
	maxBlocks   = 1 << 24
)

// blockInfo locates one block of a segment.
type blockInfo struct {
	off       int64
	firstSeq  uint64
	minTime   int64
	maxTime   int64
	count     uint32
	size      uint32 // on disk, header included
	rawLen    uint32
	filterLen uint32
}

func (b *blockInfo) endSeq() uint64 { return b.firstSeq + uint64(b.count) }

func infoOf(off int64, h *blockHeader) blockInfo {
	return blockInfo{off: off, firstSeq: h.firstSeq, minTime: h.minTime, maxTime: h.maxTime,
		count: h.count, size: uint32(h.size()), rawLen: h.rawLen, filterLen: h.filterLen}
}

// encodeIndex returns the index image of a segment of segSize bytes.
func encodeIndex(blocks []blockInfo, filters []byte, segSize int64) []byte {
	b := make([]byte, indexHeader, indexHeader+len(blocks)*entrySize+len(filters))
	copy(b, indexMagic)
	binary.LittleEndian.PutUint32(b[4:], uint32(len(blocks)))
	binary.LittleEndian.PutUint64(b[8:], uint64(segSize))
	binary.LittleEndian.PutUint64(b[16:], uint64(len(filters)))
	for i := range blocks {
		e := &blocks[i]
		b = binary.LittleEndian.AppendUint64(b, uint64(e.off))
		b = binary.LittleEndian.AppendUint64(b, e.firstSeq)
		b = binary.LittleEndian.AppendUint64(b, uint64(e.minTime))
		b = binary.LittleEndian.AppendUint64(b, uint64(e.maxTime))
		b = binary.LittleEndian.AppendUint32(b, e.count)
		b = binary.LittleEndian.AppendUint32(b, e.size)
		b = binary.LittleEndian.AppendUint32(b, e.rawLen)
		b = binary.LittleEndian.AppendUint32(b, e.filterLen)
	}
	crc := crc32.Update(crc32.Checksum(b[:24], castagnoli), castagnoli, b[indexHeader:])
	binary.LittleEndian.PutUint32(b[24:], crc)
	binary.LittleEndian.PutUint32(b[28:], crc32.Checksum(filters, castagnoli))
	return append(b, filters...)
}

// readIndex reads the header and entries of the index file name and checks
// them against a segment file of segSize bytes: blocks in order, tiling the
// file exactly, sequences rising. It returns the blocks, the offset and
// length of the filter area and its CRC.
func readIndex(fsys fileSystem, name string, segSize int64) (blocks []blockInfo, filterOff, filterLen int64, filterCRC uint32, err error) {
	f, err := fsys.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, 0, 0, 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, 0, 0, 0, err
	}
	var hdr [indexHeader]byte
	if _, err := f.ReadAt(hdr[:], 0); err != nil || string(hdr[:4]) != indexMagic {
		return nil, 0, 0, 0, fmt.Errorf("%w: index header", ErrCorrupt)
	}
	n := binary.LittleEndian.Uint32(hdr[4:])
	covers := binary.LittleEndian.Uint64(hdr[8:])
	flen := binary.LittleEndian.Uint64(hdr[16:])
	if n > maxBlocks || flen > math.MaxInt32 || st.Size() != indexHeader+int64(n)*entrySize+int64(flen) {
		return nil, 0, 0, 0, fmt.Errorf("%w: index size", ErrCorrupt)
	}
	if int64(covers) != segSize {
		return nil, 0, 0, 0, fmt.Errorf("%w: index describes %d bytes, segment has %d", ErrCorrupt, covers, segSize)
	}
	ents := make([]byte, int(n)*entrySize)
	if _, err := f.ReadAt(ents, indexHeader); err != nil {
		return nil, 0, 0, 0, fmt.Errorf("%w: index entries: %v", ErrCorrupt, err)
	}
	if crc32.Update(crc32.Checksum(hdr[:24], castagnoli), castagnoli, ents) != binary.LittleEndian.Uint32(hdr[24:]) {
		return nil, 0, 0, 0, fmt.Errorf("%w: index checksum", ErrCorrupt)
	}
	blocks = make([]blockInfo, n)
	var off, fsum int64
	for i := range blocks {
		e := ents[i*entrySize:]
		b := blockInfo{
			off:       int64(binary.LittleEndian.Uint64(e)),
			firstSeq:  binary.LittleEndian.Uint64(e[8:]),
			minTime:   int64(binary.LittleEndian.Uint64(e[16:])),
			maxTime:   int64(binary.LittleEndian.Uint64(e[24:])),
			count:     binary.LittleEndian.Uint32(e[32:]),
			size:      binary.LittleEndian.Uint32(e[36:]),
			rawLen:    binary.LittleEndian.Uint32(e[40:]),
			filterLen: binary.LittleEndian.Uint32(e[44:]),
		}
		if b.off != off || b.count == 0 || b.size < headerSize || (i > 0 && b.firstSeq < blocks[i-1].endSeq()) ||
			b.endSeq() < b.firstSeq {
			return nil, 0, 0, 0, fmt.Errorf("%w: index entry %d", ErrCorrupt, i)
		}
		off += int64(b.size)
		fsum += int64(b.filterLen)
		blocks[i] = b
	}
	if off != segSize || fsum != int64(flen) {
		return nil, 0, 0, 0, fmt.Errorf("%w: index does not tile the segment", ErrCorrupt)
	}
	return blocks, indexHeader + int64(n)*entrySize, int64(flen), binary.LittleEndian.Uint32(hdr[28:]), nil
}

// writeFileAtomic writes image as dir/name durably: a fresh temp file
// (O_EXCL, 0600), fsync, rename over name, fsync of the directory. renamed
// tells whether name now holds image (it does when only the directory
// fsync failed).
func writeFileAtomic(fsys fileSystem, dir, name string, image []byte, nosync bool) (renamed bool, err error) {
	final := filepath.Join(dir, name)
	tmp := final + ".tmp"
	_ = fsys.Remove(tmp)
	f, err := fsys.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return false, err
	}
	_, err = f.WriteAt(image, 0)
	if err == nil && !nosync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fsys.Rename(tmp, final)
	}
	if err != nil {
		_ = fsys.Remove(tmp)
		return false, err
	}
	if nosync {
		return true, nil
	}
	return true, fsys.SyncDir(dir)
}

// Low-water file: "SGL1", sequence (u64), time (i64), CRC-32C of the 20
// bytes before it.
const (
	lowMagic = "SGL1"
	lowSize  = 24
)

func encodeLow(seq uint64, t int64) []byte {
	b := make([]byte, 0, lowSize)
	b = append(b, lowMagic...)
	b = binary.LittleEndian.AppendUint64(b, seq)
	b = binary.LittleEndian.AppendUint64(b, uint64(t))
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func decodeLow(b []byte) (seq uint64, t int64, err error) {
	if len(b) != lowSize || string(b[:4]) != lowMagic ||
		crc32.Checksum(b[:20], castagnoli) != binary.LittleEndian.Uint32(b[20:]) {
		return 0, 0, fmt.Errorf("%w: low-water file", ErrCorrupt)
	}
	return binary.LittleEndian.Uint64(b[4:]), int64(binary.LittleEndian.Uint64(b[12:])), nil
}
