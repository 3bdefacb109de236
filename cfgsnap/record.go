package cfgsnap

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"reflect"
	"time"
)

// Log record layout (little endian):
//
//	offset size
//	0      4    body length L (recMinBody ≤ L ≤ recMaxBody)
//	4      4    CRC-32C (Castagnoli) of the body
//	8      L    body:
//	              0  8  version
//	              8  8  time, Unix nanoseconds
//	             16  1  record kind (recUpdate, recReset, recFunc)
//	             17  1  value tag (tagInt … tagJSON)
//	             18  2  path length P
//	             20  P  path
//	           20+P  …  value: tagInt/tagUint/tagFloat/tagDuration 8 bytes,
//	                    tagBool 1 byte, tagString the bytes, tagJSON the
//	                    JSON of the whole T (Reset and UpdateFunc records),
//	                    tagMulti several leaves (recMulti records, P = 0):
//	                      0  2  count N (1 ≤ N ≤ maxMulti)
//	                      N times: 2 path length, path, 1 tag, 4 value
//	                      length, value (as for a single leaf)
//
// The record kind is the format's extension point: a reader refuses a kind
// it does not know as ErrCorrupt, so a log written by a newer version is
// never misread (recovery treats it as damage and keeps the file). A new
// kind gets the next number and its own value layout; the header (length,
// CRC, version, time, kind, tag, path) stays as it is.
const (
	recHeader  = 8
	recMinBody = 20
	recMaxBody = 64 << 20
)

// record kinds
const (
	recUpdate byte = 1
	recReset  byte = 2
	recFunc   byte = 3
	recMulti  byte = 4 // several leaf updates as one version (one change of many paths)
)

// value tags
const (
	tagInt      byte = 1
	tagUint     byte = 2
	tagFloat    byte = 3
	tagBool     byte = 4
	tagString   byte = 5
	tagDuration byte = 6
	tagJSON     byte = 7
	tagMulti    byte = 8
)

// maxMulti bounds the leaves of one recMulti record.
const maxMulti = 1 << 12

// leafValue is one path and encoded leaf value of a recMulti record.
type leafValue struct {
	path  string
	tag   byte
	value []byte
}

// appendMulti appends the value of a recMulti record holding leaves to dst.
func appendMulti(dst []byte, leaves []leafValue) []byte {
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(leaves)))
	for _, l := range leaves {
		dst = binary.LittleEndian.AppendUint16(dst, uint16(len(l.path)))
		dst = append(dst, l.path...)
		dst = append(dst, l.tag)
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(l.value)))
		dst = append(dst, l.value...)
	}
	return dst
}

// decodeMulti decodes the value of a recMulti record; values alias b.
// Errors wrap ErrCorrupt; it never panics.
func decodeMulti(b []byte) ([]leafValue, error) {
	bad := func(what string) ([]leafValue, error) {
		return nil, fmt.Errorf("multi record %s: %w", what, ErrCorrupt)
	}
	if len(b) < 2 {
		return bad("count")
	}
	n := int(binary.LittleEndian.Uint16(b))
	if n == 0 || n > maxMulti {
		return bad("count")
	}
	b = b[2:]
	out := make([]leafValue, 0, min(n, 64))
	for range n {
		if len(b) < 2 {
			return bad("path length")
		}
		p := int(binary.LittleEndian.Uint16(b))
		if p == 0 || len(b) < 2+p+5 {
			return bad("path")
		}
		l := leafValue{path: string(b[2 : 2+p]), tag: b[2+p]}
		v := uint64(binary.LittleEndian.Uint32(b[3+p:]))
		b = b[7+p:]
		if uint64(len(b)) < v {
			return bad("value length")
		}
		l.value, b = b[:v], b[v:]
		if _, err := decodeLeaf(l.tag, l.value); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	if len(b) != 0 {
		return bad("trailing bytes")
	}
	return out, nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// record is one decoded log entry. value aliases the decoded buffer.
type record struct {
	version uint64
	time    int64
	kind    byte
	tag     byte
	path    string
	value   []byte
}

// errTorn marks a record cut short by the end of the data (a torn write).
var errTorn = fmt.Errorf("torn record: %w", ErrCorrupt)

// appendRecord appends the encoding of r to dst.
func appendRecord(dst []byte, r *record) []byte {
	start := len(dst)
	bodyLen := recMinBody + len(r.path) + len(r.value)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(bodyLen))
	dst = binary.LittleEndian.AppendUint32(dst, 0) // CRC, patched below
	dst = binary.LittleEndian.AppendUint64(dst, r.version)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(r.time))
	dst = append(dst, r.kind, r.tag)
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(r.path)))
	dst = append(dst, r.path...)
	dst = append(dst, r.value...)
	body := dst[start+recHeader:]
	binary.LittleEndian.PutUint32(dst[start+4:], crc32.Checksum(body, castagnoli))
	return dst
}

// decodeRecord decodes the record at the start of b and returns it with its
// encoded size. Incomplete input returns errTorn; anything else that fails a
// check returns an error wrapping [ErrCorrupt]. It never panics.
func decodeRecord(b []byte) (record, int, error) {
	var r record
	if len(b) < recHeader {
		return r, 0, errTorn
	}
	n := binary.LittleEndian.Uint32(b)
	if n < recMinBody || n > recMaxBody {
		return r, 0, fmt.Errorf("record length %d: %w", n, ErrCorrupt)
	}
	if uint64(len(b)-recHeader) < uint64(n) {
		return r, 0, errTorn
	}
	body := b[recHeader : recHeader+int(n)]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(b[4:]) {
		return r, 0, fmt.Errorf("record checksum: %w", ErrCorrupt)
	}
	r.version = binary.LittleEndian.Uint64(body)
	r.time = int64(binary.LittleEndian.Uint64(body[8:]))
	r.kind, r.tag = body[16], body[17]
	p := int(binary.LittleEndian.Uint16(body[18:]))
	if recMinBody+p > len(body) {
		return r, 0, fmt.Errorf("record path length %d: %w", p, ErrCorrupt)
	}
	r.path = string(body[recMinBody : recMinBody+p])
	r.value = body[recMinBody+p:]
	switch r.kind {
	case recUpdate:
		if r.tag < tagInt || r.tag > tagDuration || p == 0 {
			return r, 0, fmt.Errorf("update record tag %d: %w", r.tag, ErrCorrupt)
		}
		if _, err := decodeLeaf(r.tag, r.value); err != nil {
			return r, 0, err
		}
	case recReset, recFunc:
		if r.tag != tagJSON || p != 0 {
			return r, 0, fmt.Errorf("whole-value record tag %d: %w", r.tag, ErrCorrupt)
		}
	case recMulti:
		if r.tag != tagMulti || p != 0 {
			return r, 0, fmt.Errorf("multi record tag %d: %w", r.tag, ErrCorrupt)
		}
		if _, err := decodeMulti(r.value); err != nil {
			return r, 0, err
		}
	default:
		return r, 0, fmt.Errorf("record kind %d: %w", r.kind, ErrCorrupt)
	}
	if r.version == 0 {
		return r, 0, fmt.Errorf("record version 0: %w", ErrCorrupt)
	}
	return r, recHeader + int(n), nil
}

// encodeLeaf appends the bytes of a leaf value v of kind k to dst and
// returns them with the tag.
func encodeLeaf(dst []byte, k leafKind, v reflect.Value) (byte, []byte) {
	switch k {
	case kindInt:
		return tagInt, binary.LittleEndian.AppendUint64(dst, uint64(v.Int()))
	case kindDuration:
		return tagDuration, binary.LittleEndian.AppendUint64(dst, uint64(v.Int()))
	case kindUint:
		return tagUint, binary.LittleEndian.AppendUint64(dst, v.Uint())
	case kindFloat:
		return tagFloat, binary.LittleEndian.AppendUint64(dst, math.Float64bits(v.Float()))
	case kindBool:
		if v.Bool() {
			return tagBool, append(dst, 1)
		}
		return tagBool, append(dst, 0)
	default: // kindString, kindEnum
		return tagString, append(dst, v.String()...)
	}
}

// decodeLeaf returns the Go value of an encoded leaf: int64, uint64,
// float64, bool, string or time.Duration, ready for field.convert.
func decodeLeaf(tag byte, b []byte) (any, error) {
	switch tag {
	case tagInt, tagUint, tagFloat, tagDuration:
		if len(b) != 8 {
			return nil, fmt.Errorf("leaf tag %d length %d: %w", tag, len(b), ErrCorrupt)
		}
		u := binary.LittleEndian.Uint64(b)
		switch tag {
		case tagInt:
			return int64(u), nil
		case tagUint:
			return u, nil
		case tagFloat:
			return math.Float64frombits(u), nil
		default:
			return time.Duration(u), nil
		}
	case tagBool:
		if len(b) != 1 || b[0] > 1 {
			return nil, fmt.Errorf("bool leaf: %w", ErrCorrupt)
		}
		return b[0] == 1, nil
	case tagString:
		return string(b), nil
	}
	return nil, fmt.Errorf("leaf tag %d: %w", tag, ErrCorrupt)
}
