module github.com/elixirscope-go/foundation/bench

go 1.26

require github.com/elixirscope-go/foundation v0.0.0

replace github.com/elixirscope-go/foundation => ../
