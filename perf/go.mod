module github.com/elixirscope-go/foundation/perf

go 1.26

require (
	github.com/elixirscope-go/foundation v0.0.0
	github.com/elixirscope-go/foundation/bench v0.0.0
)

replace (
	github.com/elixirscope-go/foundation => ../
	github.com/elixirscope-go/foundation/bench => ../bench
)
