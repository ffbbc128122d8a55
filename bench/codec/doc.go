// Package codec benchmarks kbgp's BGP wire codec against GoBGP's
// (github.com/osrg/gobgp/v4/pkg/packet/bgp) on the same inputs: one UPDATE
// of 1,000 /24s, and the 89,679 UPDATEs of a full IPv4 table. It is a
// separate module so that the product's go.mod never depends on GoBGP; see
// ../README.md.
package codec
