//go:build amd64 && !race

#include "textflag.h"

// func storeRel64(addr *uint64, val uint64)
//
// A plain MOVQ: x86 never makes a store visible before an earlier store or
// load of the same core, so this is a release store.
TEXT ·storeRel64(SB), NOSPLIT, $0-16
	MOVQ addr+0(FP), AX
	MOVQ val+8(FP), BX
	MOVQ BX, 0(AX)
	RET

// func storeRel32(addr *uint32, val uint32)
TEXT ·storeRel32(SB), NOSPLIT, $0-12
	MOVQ addr+0(FP), AX
	MOVL val+8(FP), BX
	MOVL BX, 0(AX)
	RET

// func prefetchW(addr unsafe.Pointer)
//
// PREFETCHW: fetch the line in a writable state. A hint: never faults,
// never waits.
TEXT ·prefetchW(SB), NOSPLIT, $0-8
	MOVQ addr+0(FP), AX
	BYTE $0x0F; BYTE $0x0D; BYTE $0x08 // PREFETCHW (AX): the Go assembler has no mnemonic for it
	RET
