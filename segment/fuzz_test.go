package segment

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"slices"
	"testing"
)

// decodeBlock checks and decodes a whole block image.
func decodeBlock(c *codecs, b []byte) (blockHeader, []rawRecord, error) {
	h, err := parseHeader(b)
	if err != nil {
		return h, nil, err
	}
	if h.size() > int64(len(b)) {
		return h, nil, errors.Join(ErrCorrupt, errors.New("short block"))
	}
	filter, payload, err := checkBody(&h, b[:h.size()])
	if err != nil {
		return h, nil, err
	}
	_ = bloomMay(filter, 12345)
	raw, err := c.decompress(h.codec, nil, payload, h.rawLen)
	if err != nil {
		return h, nil, err
	}
	rr := recordReader{raw: raw, left: h.count}
	var out []rawRecord
	for {
		r, ok, err := rr.next()
		if err != nil {
			return h, nil, err
		}
		if !ok {
			return h, out, nil
		}
		_ = r.hasKey(7)
		out = append(out, r)
	}
}

func seedBlock(c *codecs, codec Codec, n int) []byte {
	var w blockWriter
	w.reset(42)
	for i := 0; i < n; i++ {
		r := rec(i)
		w.add(r.Time-int64(i%3)*25, r.Keys[:i%3], r.Data)
	}
	return w.encode(c, codec, nil)
}

// FuzzBlockDecode feeds arbitrary bytes to the block decoder, also with the
// length fields and checksums fixed up so that the decompressors and the
// record parser see the input. It must never panic, every error must be
// ErrCorrupt, and a block that decodes must re-encode to the same records.
func FuzzBlockDecode(f *testing.F) {
	c, err := newCodecs()
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(c.Close)
	for _, codec := range []Codec{None, Gzip, Zstd} {
		for _, n := range []int{1, 3, 40} {
			b := seedBlock(c, codec, n)
			f.Add(b, false)
			f.Add(b, true)
			f.Add(b[:len(b)/2], true)
		}
	}
	f.Add([]byte{}, false)
	f.Add([]byte(blockMagic), true)
	f.Add(make([]byte, headerSize), true)
	f.Fuzz(func(t *testing.T, b []byte, fix bool) {
		if fix && len(b) >= headerSize {
			b = slices.Clone(b)
			copy(b, blockMagic)
			b[4] %= 3
			b[5], b[6], b[7] = 0, 0, 0
			fl := binary.LittleEndian.Uint32(b[44:])
			if int64(fl) > int64(len(b)-headerSize) {
				fl = uint32(len(b) - headerSize)
				binary.LittleEndian.PutUint32(b[44:], fl)
			}
			binary.LittleEndian.PutUint32(b[40:], uint32(len(b)-headerSize)-fl)
			binary.LittleEndian.PutUint32(b[48:], crc32.Checksum(b[:48], castagnoli))
			binary.LittleEndian.PutUint32(b[52:], crc32.Checksum(b[headerSize:], castagnoli))
		}
		h, recs, err := decodeBlock(c, b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error without ErrCorrupt: %v", err)
			}
			return
		}
		if uint32(len(recs)) != h.count {
			t.Fatalf("%d records, header says %d", len(recs), h.count)
		}
		var w blockWriter
		w.reset(h.firstSeq)
		for _, r := range recs {
			keys := make([]uint64, len(r.keys)/8)
			for i := range keys {
				keys[i] = binary.LittleEndian.Uint64(r.keys[i*8:])
			}
			w.add(r.time, keys, r.data)
		}
		img := w.encode(c, h.codec, nil)
		h2, recs2, err := decodeBlock(c, img)
		if err != nil {
			t.Fatalf("re-encoded block fails: %v", err)
		}
		if h2.firstSeq != h.firstSeq || h2.count != h.count || len(recs2) != len(recs) {
			t.Fatalf("round trip: header %+v became %+v", h, h2)
		}
		for i := range recs {
			if recs[i].time != recs2[i].time || string(recs[i].keys) != string(recs2[i].keys) ||
				string(recs[i].data) != string(recs2[i].data) {
				t.Fatalf("round trip: record %d differs", i)
			}
		}
		// Every key of every record passes the block's filter.
		_, filter, _, _ := func() (blockHeader, []byte, []byte, error) {
			f, p, err := checkBody(&h2, img)
			return h2, f, p, err
		}()
		for _, r := range recs2 {
			for i := 0; i+8 <= len(r.keys); i += 8 {
				if !bloomMay(filter, binary.LittleEndian.Uint64(r.keys[i:])) {
					t.Fatalf("bloom filter misses a key of its block")
				}
			}
		}
	})
}
