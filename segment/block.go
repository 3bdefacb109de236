package segment

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Block layout on disk (little endian):
//
//	 0 magic "SGB1"
//	 4 codec (u8), 3 zero bytes
//	 8 first sequence (u64); the block holds count consecutive sequences
//	16 min time, 24 max time (i64)
//	32 count, 36 raw length, 40 payload length, 44 filter length (u32)
//	48 CRC-32C of bytes 0..47
//	52 CRC-32C of the filter and the payload
//	56 filter (a bloom filter of the records' keys), then the payload: the
//	   raw records compressed with codec
//
// Raw records, one after the other: uvarint zigzag time delta from the
// previous record (the first from 0), uvarint key count, the keys (8 bytes
// each), uvarint data length, the data.
const (
	blockMagic  = "SGB1"
	headerSize  = 56
	maxBlockRaw = 1 << 25 // decode cap: BlockSize cap + one record of MaxRecordBytes + framing
	maxPayload  = maxBlockRaw + maxBlockRaw/8
	maxFilter   = 1 << 23
	bloomK      = 7
	bitsPerKey  = 10
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// MaxRecordBytes caps a record's Data; a larger record is [ErrTooLarge].
const MaxRecordBytes = 16 << 20

// MaxKeys caps the keys of one record; more is [ErrTooLarge].
const MaxKeys = 64

// Codec names a block compression.
type Codec uint8

// Codecs.
const (
	None Codec = iota // stored as is
	Gzip              // klauspost/compress/gzip, default level
	Zstd              // klauspost/compress/zstd, default level
)

// String returns the codec's config name: "none", "gzip" or "zstd".
func (c Codec) String() string {
	switch c {
	case None:
		return "none"
	case Gzip:
		return "gzip"
	case Zstd:
		return "zstd"
	}
	return fmt.Sprintf("codec(%d)", uint8(c))
}

// ParseCodec returns the codec named s ("none", "gzip", "zstd"); anything
// else is [ErrConfig].
func ParseCodec(s string) (Codec, error) {
	switch s {
	case "none":
		return None, nil
	case "gzip":
		return Gzip, nil
	case "zstd":
		return Zstd, nil
	}
	return 0, fmt.Errorf("%w: compression %q (want none, gzip or zstd)", ErrConfig, s)
}

// blockHeader is the decoded fixed part of a block.
type blockHeader struct {
	codec      Codec
	firstSeq   uint64
	minTime    int64
	maxTime    int64
	count      uint32
	rawLen     uint32
	payloadLen uint32
	filterLen  uint32
}

func (h *blockHeader) size() int64 {
	return headerSize + int64(h.filterLen) + int64(h.payloadLen)
}

// parseHeader checks and decodes the fixed header at b[:headerSize].
func parseHeader(b []byte) (blockHeader, error) {
	var h blockHeader
	if len(b) < headerSize {
		return h, fmt.Errorf("%w: block header truncated (%d bytes)", ErrCorrupt, len(b))
	}
	if string(b[:4]) != blockMagic {
		return h, fmt.Errorf("%w: bad block magic", ErrCorrupt)
	}
	if crc32.Checksum(b[:48], castagnoli) != binary.LittleEndian.Uint32(b[48:]) {
		return h, fmt.Errorf("%w: block header checksum", ErrCorrupt)
	}
	h = blockHeader{
		codec:      Codec(b[4]),
		firstSeq:   binary.LittleEndian.Uint64(b[8:]),
		minTime:    int64(binary.LittleEndian.Uint64(b[16:])),
		maxTime:    int64(binary.LittleEndian.Uint64(b[24:])),
		count:      binary.LittleEndian.Uint32(b[32:]),
		rawLen:     binary.LittleEndian.Uint32(b[36:]),
		payloadLen: binary.LittleEndian.Uint32(b[40:]),
		filterLen:  binary.LittleEndian.Uint32(b[44:]),
	}
	switch {
	case h.codec > Zstd, b[5] != 0 || b[6] != 0 || b[7] != 0:
		return h, fmt.Errorf("%w: block codec %d", ErrCorrupt, b[4])
	case h.count == 0 || h.rawLen > maxBlockRaw || h.count > h.rawLen/3:
		return h, fmt.Errorf("%w: block count %d, raw length %d", ErrCorrupt, h.count, h.rawLen)
	case h.payloadLen > maxPayload || h.filterLen > maxFilter:
		return h, fmt.Errorf("%w: block payload %d, filter %d bytes", ErrCorrupt, h.payloadLen, h.filterLen)
	case h.minTime > h.maxTime:
		return h, fmt.Errorf("%w: block times %d > %d", ErrCorrupt, h.minTime, h.maxTime)
	case h.firstSeq+uint64(h.count) < h.firstSeq:
		return h, fmt.Errorf("%w: block sequence %d overflows", ErrCorrupt, h.firstSeq)
	}
	return h, nil
}

// checkBody verifies the body CRC of a whole block image b (header
// included) and returns its filter and payload.
func checkBody(h *blockHeader, b []byte) (filter, payload []byte, err error) {
	if int64(len(b)) != h.size() {
		return nil, nil, fmt.Errorf("%w: block is %d bytes, header says %d", ErrCorrupt, len(b), h.size())
	}
	body := b[headerSize:]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(b[52:]) {
		return nil, nil, fmt.Errorf("%w: block body checksum", ErrCorrupt)
	}
	return body[:h.filterLen], body[h.filterLen:], nil
}

// codecs holds the compressors of one log. The zstd encoder and decoder are
// safe for concurrent EncodeAll/DecodeAll and run on the caller's goroutine
// (concurrency 1), so they start no goroutines of their own. They are
// released when the last reference goes: the log's own and one per running
// Scan, so that a Scan racing Close never decodes with a closed decoder.
type codecs struct {
	zenc *zstd.Encoder
	zdec *zstd.Decoder
	gzw  sync.Pool // *gzip.Writer
	gzr  sync.Pool // *gzip.Reader
	refs atomic.Int32
}

func newCodecs() (*codecs, error) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true))
	if err != nil {
		return nil, err
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxBlockRaw),
		zstd.WithDecoderLowmem(true))
	if err != nil {
		enc.Close()
		return nil, err
	}
	c := &codecs{zenc: enc, zdec: dec}
	c.refs.Store(1)
	return c, nil
}

func (c *codecs) acquire() { c.refs.Add(1) }

// Close drops a reference; the last one closes the coders.
func (c *codecs) Close() {
	if c.refs.Add(-1) == 0 {
		_ = c.zenc.Close()
		c.zdec.Close()
	}
}

// compress appends raw compressed with codec to dst.
func (c *codecs) compress(codec Codec, dst, raw []byte) []byte {
	switch codec {
	case Zstd:
		return c.zenc.EncodeAll(raw, dst)
	case Gzip:
		buf := bytes.NewBuffer(dst)
		w, _ := c.gzw.Get().(*gzip.Writer)
		if w == nil {
			w = gzip.NewWriter(buf)
		} else {
			w.Reset(buf)
		}
		_, _ = w.Write(raw) // a bytes.Buffer does not fail
		_ = w.Close()
		c.gzw.Put(w)
		return buf.Bytes()
	}
	return append(dst, raw...)
}

// decompress appends the raw records of payload to dst; the result must be
// exactly rawLen bytes.
func (c *codecs) decompress(codec Codec, dst, payload []byte, rawLen uint32) ([]byte, error) {
	start := len(dst)
	var err error
	switch codec {
	case None:
		dst = append(dst, payload...)
	case Zstd:
		dst = slices.Grow(dst, int(rawLen))
		dst, err = c.zdec.DecodeAll(payload, dst)
	case Gzip:
		r, _ := c.gzr.Get().(*gzip.Reader)
		if r == nil {
			r, err = gzip.NewReader(bytes.NewReader(payload))
		} else {
			err = r.Reset(bytes.NewReader(payload))
		}
		if err == nil {
			r.Multistream(false)
			dst = slices.Grow(dst, int(rawLen)+1)
			var n int64
			w := bytes.NewBuffer(dst)
			n, err = io.Copy(w, io.LimitReader(r, int64(rawLen)+1))
			dst = w.Bytes()
			_ = n
			c.gzr.Put(r)
		}
	default:
		return dst[:start], fmt.Errorf("%w: codec %d", ErrCorrupt, codec)
	}
	if err != nil {
		return dst[:start], fmt.Errorf("%w: decompress %v: %v", ErrCorrupt, codec, err)
	}
	if uint32(len(dst)-start) != rawLen {
		return dst[:start], fmt.Errorf("%w: decompressed %d bytes, header says %d", ErrCorrupt, len(dst)-start, rawLen)
	}
	return dst, nil
}

// blockWriter accumulates raw records for one block.
type blockWriter struct {
	raw      []byte
	keys     []uint64
	scratch  []uint64 // appendBloom sorts a copy of keys here, so a failed write can restore keys
	firstSeq uint64
	count    uint32
	minTime  int64
	maxTime  int64
	prevTime int64
}

func (w *blockWriter) reset(firstSeq uint64) {
	w.raw, w.keys = w.raw[:0], w.keys[:0]
	w.firstSeq, w.count, w.prevTime = firstSeq, 0, 0
}

// add encodes r (its Seq is firstSeq+count).
func (w *blockWriter) add(t int64, keys []uint64, data []byte) {
	if w.count == 0 || t < w.minTime {
		w.minTime = t
	}
	if w.count == 0 || t > w.maxTime {
		w.maxTime = t
	}
	w.raw = binary.AppendUvarint(w.raw, zigzag(t-w.prevTime))
	w.prevTime = t
	w.raw = binary.AppendUvarint(w.raw, uint64(len(keys)))
	for _, k := range keys {
		w.raw = binary.LittleEndian.AppendUint64(w.raw, k)
		w.keys = append(w.keys, k)
	}
	w.raw = binary.AppendUvarint(w.raw, uint64(len(data)))
	w.raw = append(w.raw, data...)
	w.count++
}

// encode appends the block image to dst.
func (w *blockWriter) encode(c *codecs, codec Codec, dst []byte) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, headerSize)...)
	w.scratch = append(w.scratch[:0], w.keys...)
	dst = appendBloom(dst, w.scratch)
	filterLen := len(dst) - start - headerSize
	dst = c.compress(codec, dst, w.raw)
	b := dst[start:]
	copy(b, blockMagic)
	b[4] = byte(codec)
	binary.LittleEndian.PutUint64(b[8:], w.firstSeq)
	binary.LittleEndian.PutUint64(b[16:], uint64(w.minTime))
	binary.LittleEndian.PutUint64(b[24:], uint64(w.maxTime))
	binary.LittleEndian.PutUint32(b[32:], w.count)
	binary.LittleEndian.PutUint32(b[36:], uint32(len(w.raw)))
	binary.LittleEndian.PutUint32(b[40:], uint32(len(b)-headerSize-filterLen))
	binary.LittleEndian.PutUint32(b[44:], uint32(filterLen))
	binary.LittleEndian.PutUint32(b[48:], crc32.Checksum(b[:48], castagnoli))
	binary.LittleEndian.PutUint32(b[52:], crc32.Checksum(b[headerSize:], castagnoli))
	return dst
}

func crcOf(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

func zigzag(v int64) uint64   { return uint64(v<<1) ^ uint64(v>>63) }
func unzigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }

// rawRecord is one decoded record; its slices alias the raw buffer.
type rawRecord struct {
	time int64
	keys []byte // 8 bytes per key
	data []byte
}

// recordReader walks the raw records of a block.
type recordReader struct {
	raw  []byte
	left uint32
	prev int64
}

// next decodes the next record; ok is false at the end. Every length is
// checked against what remains, so no input can index out of range.
func (r *recordReader) next() (rec rawRecord, ok bool, err error) {
	if r.left == 0 {
		if len(r.raw) != 0 {
			return rec, false, fmt.Errorf("%w: %d bytes after the last record", ErrCorrupt, len(r.raw))
		}
		return rec, false, nil
	}
	dt, n := binary.Uvarint(r.raw)
	if n <= 0 {
		return rec, false, fmt.Errorf("%w: record time", ErrCorrupt)
	}
	r.raw = r.raw[n:]
	nk, n := binary.Uvarint(r.raw)
	if n <= 0 || nk > MaxKeys || uint64(len(r.raw)-n) < nk*8 {
		return rec, false, fmt.Errorf("%w: record key count", ErrCorrupt)
	}
	r.raw = r.raw[n:]
	rec.keys, r.raw = r.raw[:nk*8:nk*8], r.raw[nk*8:]
	dl, n := binary.Uvarint(r.raw)
	if n <= 0 || dl > MaxRecordBytes || uint64(len(r.raw)-n) < dl {
		return rec, false, fmt.Errorf("%w: record data length", ErrCorrupt)
	}
	r.raw = r.raw[n:]
	rec.data, r.raw = r.raw[:dl:dl], r.raw[dl:]
	r.prev += unzigzag(dt)
	rec.time = r.prev
	r.left--
	return rec, true, nil
}

// hasKey reports whether the record's keys contain k.
func (rec *rawRecord) hasKey(k uint64) bool {
	for i := 0; i+8 <= len(rec.keys); i += 8 {
		if binary.LittleEndian.Uint64(rec.keys[i:]) == k {
			return true
		}
	}
	return false
}

// appendBloom appends a bloom filter of keys (one byte k, then the bit
// array, a multiple of 8 bytes): bitsPerKey bits per distinct key, bloomK
// probes by double hashing, about 1% false positives. No keys, no filter.
func appendBloom(dst []byte, keys []uint64) []byte {
	if len(keys) == 0 {
		return dst
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	bits := (len(keys)*bitsPerKey + 63) &^ 63
	dst = append(dst, bloomK)
	start := len(dst)
	dst = append(dst, make([]byte, bits/8)...)
	f := dst[start:]
	for _, k := range keys {
		h1, h2 := uint32(k), uint32(k>>32)|1
		for i := uint32(0); i < bloomK; i++ {
			bit := (h1 + i*h2) % uint32(bits)
			f[bit/8] |= 1 << (bit % 8)
		}
	}
	return dst
}

// bloomMay reports whether key may be among the keys of filter f. A
// malformed filter answers true (the block is read and checked exactly).
func bloomMay(f []byte, key uint64) bool {
	if len(f) == 0 {
		return false
	}
	k, bits := uint32(f[0]), uint32(len(f)-1)*8
	if k == 0 || k > 32 || bits == 0 {
		return true
	}
	f = f[1:]
	h1, h2 := uint32(key), uint32(key>>32)|1
	for i := uint32(0); i < k; i++ {
		bit := (h1 + i*h2) % bits
		if f[bit/8]&(1<<(bit%8)) == 0 {
			return false
		}
	}
	return true
}

// Key returns the 64-bit key of s for [Record.Keys] and [Query.Key]: FNV-1a,
// stable across processes and versions, never 0. It does not allocate.
func Key(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	if h == 0 {
		h = 1
	}
	return h
}
