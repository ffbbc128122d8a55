package status

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestNotificationError(t *testing.T) {
	tests := []struct {
		name          string
		received      bool
		code, subcode uint8
		want          string
	}{
		{"hold timer sent", false, 4, 0, "BGP Error: Hold timer expired"},
		{"admin shutdown received", true, 6, 2, "Received: Administrative shutdown"},
		{"admin reset received", true, 6, 4, "Received: Administrative reset"},
		{"bad peer AS sent", false, 2, 2, "BGP Error: Bad peer AS"},
		{"fsm error", true, 5, 2, "Received: Unexpected message in OpenConfirm state"},
		{"unknown cease subcode", true, 6, 10, "Received: Unknown error 6.10"},
		{"unknown code", false, 99, 1, "BGP Error: Unknown error 99.1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := NotificationError(tc.received, tc.code, tc.subcode, now)
			if got := e.String(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if e.Code != tc.code || e.Subcode != tc.subcode || !e.At.Equal(now) {
				t.Errorf("fields %+v", e)
			}
		})
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestSocketError(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, "Socket: Connection refused"},
		{"reset", fmt.Errorf("read: %w", syscall.ECONNRESET), "Socket: Connection reset by peer"},
		{"no route", syscall.EHOSTUNREACH, "Socket: No route to host"},
		{"closed", io.EOF, "Socket: Connection closed"},
		{"nil", nil, "Socket: Connection closed"},
		{"timeout", &net.OpError{Op: "dial", Err: timeoutErr{}}, "Socket: Connection timed out"},
		{"other", errors.New("tls: bad record"), "Socket: Tls: bad record"},
		{"empty", errors.New(""), "Socket: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := SocketError(tc.err, now).String(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestSocketErrorFromRealConnect words a real refused connection.
func TestSocketErrorFromRealConnect(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nobody.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
	var d net.Dialer
	_, err = d.DialContext(context.Background(), "unix", path)
	if got := SocketError(err, time.Time{}).String(); got != "Socket: Connection refused" {
		t.Errorf("got %q from %v", got, err)
	}
}
