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
