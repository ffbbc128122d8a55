// Package interop holds kbgp's interoperability tests: kbgp speakers peer
// with BIRD 2, FRR and GoBGP running in throw-away network namespaces, and
// each test checks what both sides see:
//   - sessions with TCP MD5 over IPv4 and IPv6, GTSM, active and passive
//     connection set-up, routes both ways with their attributes;
//   - route reflection with kbgp as the reflector (clients, non-clients,
//     CLUSTER_LIST loops) and with FRR reflecting between kbgp clients
//     (ORIGINATOR_ID and CLUSTER_LIST, ORIGINATOR_ID loops);
//   - ADD-PATH both ways with FRR, and kbgp's multipath set;
//   - graceful restart both ways: kbgp killed with SIGKILL and restarted
//     (the test binary re-executes itself as a speaker, see TestMain), and
//     a peer killed for good (stale, then long-lived stale, then gone);
//   - eBGP rules: next hop self, AS_PATH prepend and loops, LOCAL_PREF,
//     NO_EXPORT.
//
// The tests need root and the Debian packages bird2, frr and gobgpd; they
// skip without them. Every test has its own namespaces and processes,
// removed at cleanup, so they run in parallel.
package interop
