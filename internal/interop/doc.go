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
// Every session has a TCP MD5 password (RFC 2385), and every test runs for
// IPv4 unicast and IPv6 unicast. Like Calico, which runs one BGP session
// per family and neighbour address, a test's IPv4 routes go over IPv4
// sessions and its IPv6 routes over separate IPv6 sessions; the Session
// tests run both in one lab, the others run one lab per family as the
// parallel subtests "ipv4" and "ipv6" (see forEachFamily). Router IDs,
// ORIGINATOR_ID and CLUSTER_LIST are the 32-bit IPv4 addresses in both.
//
//	test                                    subject         MD5  IPv4  IPv6
//	TestInteropBIRD_Session                 BIRD eBGP       yes  yes   yes
//	TestInteropFRR_Session                  FRR eBGP        yes  yes   yes
//	TestInteropGoBGP_Session                GoBGP eBGP      yes  yes   yes
//	TestInteropBIRD_MD5                     BIRD, keys      [1]  yes   yes
//	TestInteropBIRD_ActiveConnect           BIRD passive    yes  yes   yes
//	TestInteropFRR_GTSM                     FRR [2]         yes  yes   yes
//	TestInteropBIRD_RouteReflection         kbgp RR         yes  yes   yes
//	TestInteropFRR_RouteReflection          kbgp RR         yes  yes   yes
//	TestInteropBIRD_ReflectorNonClient      kbgp RR         yes  yes   yes
//	TestInteropFRR_ReflectorWithKbgpClients FRR RR          yes  yes   yes
//	TestInteropFRR_AddPath                  FRR both ways   yes  yes   yes
//	TestInteropBIRD_GracefulRestart         BIRD GR, LLGR   yes  yes   yes
//	TestInteropFRR_GracefulRestart          FRR GR          yes  yes   yes
//	TestInteropBIRD_EBGP                    BIRD eBGP rules yes  yes   yes
//
// [1] same key, wrong key and no key on kbgp's side: the wrong or missing
// key must keep the session down with the kernel counting the dropped
// segments in kbgp's namespace (TcpExt TCPMD5Failure, TCPMD5Unexpected),
// the same key must bring it up with no such drops. [2] GTSM on both
// sides, and on FRR's side only, where FRR's kernel must drop kbgp's
// segments (TcpExt TCPMinTTLDrop).
//
// The tests need root and the Debian packages bird2, frr and gobgpd; they
// skip without them. Every test has its own namespaces and processes,
// removed at cleanup, so they run in parallel.
package interop
