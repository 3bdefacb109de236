package suite

import "runtime"

func spinYield() { runtime.Gosched() }
