package interop

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kbgp/kbgp/internal/bgp/fsm"
	"github.com/kbgp/kbgp/internal/bgp/speaker"
	"github.com/kbgp/kbgp/internal/netns/nstest"
)

// tcpExt returns the kernel's TcpExt counters in ns's network namespace
// (/proc/net/netstat is per namespace): pairs of "TcpExt:" lines, names
// then values.
func tcpExt(t *testing.T, ns *nstest.NS) map[string]uint64 {
	t.Helper()
	var names []string
	m := map[string]uint64{}
	for _, line := range strings.Split(ns.Run("cat", "/proc/net/netstat"), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "TcpExt:" {
			continue
		}
		if names == nil {
			names = f[1:]
			continue
		}
		for i, v := range f[1:] {
			if i < len(names) {
				n, err := strconv.ParseUint(v, 10, 64)
				if err != nil {
					t.Fatalf("/proc/net/netstat in %s: TcpExt %s: %v", ns.Name, names[i], err)
				}
				m[names[i]] = n
			}
		}
		break
	}
	if len(m) == 0 {
		t.Fatalf("/proc/net/netstat in %s has no TcpExt counters", ns.Name)
	}
	return m
}

// TestInteropBIRD_MD5 shows that the interop sessions really are TCP MD5
// (RFC 2385) sessions checked by the kernel, for IPv4 and IPv6: BIRD
// signs with the interop password, and kbgp's listening socket holds the
// same key, another key, or none.
//   - same key: the session comes up and kbgp's kernel has dropped no
//     segment for a bad or missing signature;
//   - wrong key: kbgp's kernel drops BIRD's SYNs (TcpExt TCPMD5Failure;
//     RFC 2385 §2.0: "Upon receiving a signed segment, the receiver must
//     validate it by calculating its own digest ... and comparing the
//     two. If the comparison fails, then the segment must be dropped");
//   - no key: kbgp's kernel drops the signed SYNs as unexpected (TcpExt
//     TCPMD5Unexpected), so a peer with MD5 never reaches a kbgp peer
//     configured without it.
func TestInteropBIRD_MD5(t *testing.T) {
	nstest.RequireBinaries(t, "bird", "birdc")
	t.Parallel()
	forEachFamily(t, func(t *testing.T, f family) {
		for _, tc := range []struct {
			name     string
			password string
			drop     string // the TcpExt counter that must grow in kbgp's namespace
		}{
			{"same key", password, ""},
			{"wrong key", "not-the-" + password, "TCPMD5Failure"},
			{"no key", "", "TCPMD5Unexpected"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				l := newLab(t, f.tag("m"), 1)
				l.startKBGP(65001, speaker.Config{})
				c := f.peerConfig(f.peer(1), 65002)
				c.Session.Password = tc.password
				l.addPeer(c)
				sock := l.startBIRD(l.peers[0], "bird", birdConfig(1, 65002, "", f))
				if tc.drop == "" {
					l.waitEstablished(f.peer(1), 30*time.Second)
					l.kbgpRoute(f.net(20, 1), 20*time.Second, func(b speaker.BestPath) bool { return !b.Withdrawn() })
					ext := tcpExt(t, l.k)
					if ext["TCPMD5Failure"] != 0 || ext["TCPMD5Unexpected"] != 0 || ext["TCPMD5NotFound"] != 0 {
						t.Errorf("kbgp's namespace dropped segments with the right key: TCPMD5Failure %d TCPMD5Unexpected %d TCPMD5NotFound %d",
							ext["TCPMD5Failure"], ext["TCPMD5Unexpected"], ext["TCPMD5NotFound"])
					}
					return
				}
				// BIRD retries every second: wait for a few drops rather
				// than for a fixed time.
				eventually(t, 30*time.Second, "kbgp's kernel drops BIRD's SYNs ("+tc.drop+" ≥ 3)", func() (bool, string) {
					n := tcpExt(t, l.k)[tc.drop]
					return n >= 3, fmt.Sprintf("%s %d\n%s", tc.drop, n, output(nil, "birdc", "-s", sock, "show", "protocols", "all"))
				})
				st, err := l.sp.PeerStatus(f.peer(1))
				if err != nil {
					t.Fatal(err)
				}
				if st.State == fsm.Established || st.Established > 0 {
					t.Errorf("session with %v came up although kbgp's key is %q: %v, %d times Established", f.peer(1), tc.password, st.State, st.Established)
				}
				if out := output(nil, "birdc", "-s", sock, "show", "protocols"); strings.Contains(out, "Established") {
					t.Errorf("BIRD reports the session Established:\n%s", out)
				}
			})
		}
	})
}
