package ctlapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"time"

	"github.com/kbgp/kbgp/internal/status"
)

// DefaultTimeout bounds each client request, as calicoctl bounds its reads
// of the BIRD socket.
const DefaultTimeout = 2 * time.Second

// Client talks to an agent's control socket.
type Client struct {
	path string
	hc   *http.Client
}

// UnreachableError says the agent's socket could not be reached.
type UnreachableError struct {
	Path string
	Err  error
}

func (e *UnreachableError) Error() string {
	reason := e.Err.Error()
	hint := "is kbgp agent running?"
	var errno syscall.Errno
	if errors.As(e.Err, &errno) {
		reason = errno.Error()
		if errno == syscall.EACCES || errno == syscall.EPERM {
			hint = "the socket is mode 0600; run as root"
		}
	} else if errors.Is(e.Err, context.DeadlineExceeded) || isTimeout(e.Err) {
		reason = "no answer within " + DefaultTimeout.String()
		hint = "is kbgp agent stuck?"
	}
	return fmt.Sprintf("cannot reach kbgp agent at %s: %s — %s", e.Path, reason, hint)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// APIError is an error the agent answered with.
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string { return "kbgp agent: " + e.Message }

// Dial connects to the agent's control socket at path (see SocketPath)
// and returns a client whose requests time out after DefaultTimeout. It
// fails at once with an *UnreachableError if nothing listens there.
func Dial(path string) (*Client, error) {
	c, err := net.DialTimeout("unix", path, DefaultTimeout)
	if err != nil {
		return nil, &UnreachableError{Path: path, Err: err}
	}
	c.Close()
	d := net.Dialer{Timeout: DefaultTimeout}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", path)
		},
		MaxIdleConns:    1,
		IdleConnTimeout: 10 * time.Second,
	}
	return &Client{path: path, hc: &http.Client{Transport: tr, Timeout: DefaultTimeout}}, nil
}

// Close releases idle connections.
func (c *Client) Close() error {
	c.hc.CloseIdleConnections()
	return nil
}

// Node fetches the node's state.
func (c *Client) Node(ctx context.Context) (status.Node, error) {
	var n status.Node
	_, err := c.get(ctx, "/v1/node", &n, http.StatusOK)
	return n, err
}

// Peers fetches all peers.
func (c *Client) Peers(ctx context.Context) ([]status.Peer, error) {
	var p []status.Peer
	_, err := c.get(ctx, "/v1/peers", &p, http.StatusOK)
	return p, err
}

// Peer fetches one peer by address or session name.
func (c *Client) Peer(ctx context.Context, key string) (status.Peer, error) {
	var p status.Peer
	_, err := c.get(ctx, "/v1/peers/"+url.PathEscape(key), &p, http.StatusOK)
	return p, err
}

// Routes fetches the routes query selects (see status.ParseRouteQuery).
func (c *Client) Routes(ctx context.Context, query string) (status.RIB, error) {
	var r status.RIB
	path := "/v1/routes"
	if query != "" {
		path += "?q=" + url.QueryEscape(query)
	}
	_, err := c.get(ctx, path, &r, http.StatusOK)
	return r, err
}

// Live asks for liveness. A not-live agent is a Health with OK false, not
// an error; errors mean the question could not be asked.
func (c *Client) Live(ctx context.Context) (status.Health, error) {
	var h status.Health
	_, err := c.get(ctx, "/v1/health/live", &h, http.StatusOK, http.StatusServiceUnavailable)
	return h, err
}

// Ready asks for readiness, like Live.
func (c *Client) Ready(ctx context.Context) (status.Health, error) {
	var h status.Health
	_, err := c.get(ctx, "/v1/health/ready", &h, http.StatusOK, http.StatusServiceUnavailable)
	return h, err
}

// get fetches path into v, accepting the listed status codes.
func (c *Client) get(ctx context.Context, path string, v any, ok ...int) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://kbgp"+path, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, &UnreachableError{Path: c.path, Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return resp.StatusCode, &UnreachableError{Path: c.path, Err: err}
	}
	for _, code := range ok {
		if resp.StatusCode == code {
			if err := json.Unmarshal(body, v); err != nil {
				return resp.StatusCode, fmt.Errorf("kbgp agent at %s: decoding %s: %w", c.path, path, err)
			}
			return resp.StatusCode, nil
		}
	}
	var eb errorBody
	if json.Unmarshal(body, &eb) != nil || eb.Error == "" {
		eb.Error = fmt.Sprintf("%s: HTTP %d", path, resp.StatusCode)
	}
	return resp.StatusCode, &APIError{Status: resp.StatusCode, Message: eb.Error}
}
