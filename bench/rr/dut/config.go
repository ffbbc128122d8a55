package dut

import (
	"fmt"
	"strings"

	"github.com/kbgp/kbgp/bench/rr/speakerdut"
)

// The generated configurations. Each makes the DUT an iBGP route reflector
// (RFC 4456 §6: "the route reflector ... reflect[s] the route ... to all
// the client peers other than the originator") whose clients are passive
// neighbors, with its cluster ID equal to its address, no kernel route
// programming and every other setting at the daemon's default.

// BIRDConfig is the bird.conf for s. The direct protocol only puts the
// clients' /16 into the table so iBGP next hops resolve (gateway recursive);
// it is not exported.
func BIRDConfig(s Setup) string {
	var b strings.Builder
	fmt.Fprintf(&b, `# kbgp benchmark: BIRD 2 as route reflector
router id %[1]s;
log "%[3]s/bird.log" %[4]s;
%[5]sprotocol device { }
protocol direct lo4 { ipv4; interface "lo"; }
template bgp rrclient {
  local %[1]s as %[2]d;
  rr client;
  rr cluster id %[1]s;
  passive on;
  ipv4 { import all; export where source = RTS_BGP; };
}
`, s.Addr, s.AS, s.Dir, birdLog(s.Debug), birdDebug(s.Debug))
	for i, c := range s.Clients {
		fmt.Fprintf(&b, "protocol bgp c%d from rrclient { neighbor %s as %d; }\n", i, c, s.AS)
	}
	return b.String()
}

func birdLog(debug bool) string {
	if debug {
		return "all"
	}
	return "{ warning, error, fatal }"
}

func birdDebug(debug bool) string {
	if debug {
		return "debug protocols all;\n"
	}
	return ""
}

// FRRConfig is the bgpd.conf for s. `bgp no-rib` keeps bgpd from
// installing routes through zebra (the other DUTs do not program the
// kernel either); zebra still runs for next-hop tracking.
func FRRConfig(s Setup) string {
	var b strings.Builder
	fmt.Fprintf(&b, `! kbgp benchmark: FRR as route reflector
frr defaults traditional
hostname dut
log file %[3]s/bgpd.log informational
bgp no-rib
router bgp %[2]d
 bgp router-id %[1]s
 bgp log-neighbor-changes
 bgp cluster-id %[1]s
 no bgp default ipv4-unicast
 neighbor CLIENTS peer-group
 neighbor CLIENTS remote-as %[2]d
 neighbor CLIENTS passive
`, s.Addr, s.AS, s.Dir)
	for _, c := range s.Clients {
		fmt.Fprintf(&b, " neighbor %s peer-group CLIENTS\n", c)
	}
	b.WriteString(` address-family ipv4 unicast
  neighbor CLIENTS activate
  neighbor CLIENTS route-reflector-client
 exit-address-family
`)
	return b.String()
}

// GoBGPConfig is the gobgpd.toml for s.
func GoBGPConfig(s Setup) string {
	var b strings.Builder
	fmt.Fprintf(&b, `# kbgp benchmark: GoBGP as route reflector
[global.config]
  as = %[2]d
  router-id = "%[1]s"
  local-address-list = ["%[1]s"]
`, s.Addr, s.AS)
	for _, c := range s.Clients {
		fmt.Fprintf(&b, `[[neighbors]]
  [neighbors.config]
    neighbor-address = "%[1]s"
    peer-as = %[2]d
  [neighbors.transport.config]
    passive-mode = true
  [neighbors.route-reflector.config]
    route-reflector-client = true
    route-reflector-cluster-id = "%[3]s"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
`, c, s.AS, s.Addr)
	}
	return b.String()
}

// GoConfig is the configuration of the Go DUTs (kbgp and null): the kbgp
// DUT's own (package speakerdut), shared by the null reflector.
type GoConfig = speakerdut.Config

// GoDUTConfig is the configuration file of the kbgp and null DUTs, in
// speakerdut's text format (GoConfig.AppendText).
func GoDUTConfig(s Setup) ([]byte, error) {
	c := GoConfig{Addr: s.Addr, AS: s.AS, Clients: s.Clients, Port: s.Port}
	if s.Profile {
		c.Profile = s.Dir
	}
	b, err := c.AppendText(nil)
	if err != nil {
		return nil, fmt.Errorf("dut: %w", err)
	}
	return b, nil
}
