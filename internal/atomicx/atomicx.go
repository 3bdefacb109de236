// Package atomicx holds the two stores that Go's sync/atomic does not offer
// and that a publish step needs: a release store of a word, and a store of a
// pointer that needs no fence because a release store follows it.
//
// On amd64, sync/atomic's Store is an XCHG: a full fence, as costly as a
// CAS. Publishing an item (write the value, then flip a state word that
// readers check) needs less: the value must be visible no later than the
// state (release order), and x86's own store order
// (TSO) already gives that to plain MOVs. So on amd64 [StoreRelease] is one
// MOV in assembly (an opaque call: the compiler keeps every earlier memory
// access before it) and [StorePointerBeforeRelease] is a plain pointer store
// with its GC write barrier. On other architectures, and under the race
// detector (which must see the synchronisation), both are sync/atomic's
// Store.
//
// What is given up is only the store-load fence of a sequentially
// consistent store: a load after StoreRelease may be satisfied before the
// store is visible to other cores. Use them only where no later load of this
// goroutine must observe another goroutine's reaction to the store (no
// Dekker-style handshake).
package atomicx
