// Package interop holds kbgp's interoperability tests: a kbgp speaker peers
// with BIRD 2, FRR and GoBGP running in throw-away network namespaces, and
// each test checks sessions (with TCP MD5, over IPv4 and IPv6), routes in
// both directions with their attributes, and route reflection, as both
// sides see them. The tests need root and the Debian packages bird2, frr
// and gobgpd; they skip without them.
package interop
