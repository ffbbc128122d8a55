module github.com/kbgp/kbgp/bench/codec

go 1.26.0

require github.com/kbgp/kbgp v0.0.0

require github.com/osrg/gobgp/v4 v4.8.0

replace github.com/kbgp/kbgp => ../..
