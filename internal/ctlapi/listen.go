package ctlapi

import (
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// DefaultSocket is where the agent serves the control API.
const DefaultSocket = "/run/kbgp/kbgp.sock"

// SocketEnv names the environment variable that overrides DefaultSocket.
const SocketEnv = "KBGP_SOCKET"

// SocketPath picks the socket: flag if set, else $KBGP_SOCKET, else
// DefaultSocket.
func SocketPath(flag string) string {
	if flag != "" {
		return flag
	}
	if env := os.Getenv(SocketEnv); env != "" {
		return env
	}
	return DefaultSocket
}

// Listen creates the control socket at path: the parent directory is
// created with mode 0755 if missing, a stale socket left by a crashed agent
// is removed (a live one is an error), and the socket is made mode 0600 so
// only its owner (root, for the agent) can connect. Closing the listener
// removes the socket file.
func Listen(path string) (*net.UnixListener, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("control socket %s: creating directory: %w", path, err)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("control socket %s: the path exists and is not a socket; refusing to replace it", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("control socket %s: another kbgp agent is already serving it", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("control socket %s: removing stale socket: %w", path, err)
		}
	}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	// Between bind and chmod the socket has the umask's mode; with the
	// usual 022 others lack the write permission connect(2) needs.
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("control socket %s: chmod 0600: %w", path, err)
	}
	return l, nil
}

// ListenProbes listens on addr (host:port) for the HTTP probe and metrics
// endpoints. The host must be a loopback address ("localhost" means
// 127.0.0.1); anything else is refused, because these endpoints are for
// the kubelet and a local Prometheus agent, not the network.
func ListenProbes(addr string) (net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("probe address %q: want host:port, e.g. 127.0.0.1:9099: %w", addr, err)
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.Unmap().IsLoopback() {
		if host == "" {
			host = "all addresses"
		}
		return nil, fmt.Errorf("probe address %q: %s is not a loopback address; the probe and metrics endpoints are only served on loopback (127.0.0.1 or [::1])", addr, host)
	}
	pn, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("probe address %q: bad port %q", addr, port)
	}
	l, err := net.Listen("tcp", netip.AddrPortFrom(ip.Unmap(), uint16(pn)).String())
	if err != nil {
		return nil, fmt.Errorf("probe listener %s: %w", addr, err)
	}
	return l, nil
}
