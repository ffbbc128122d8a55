package lab

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestPodHandler(t *testing.T) {
	srv := httptest.NewServer(podHandler("web-ubuntu-1-0"))
	defer srv.Close()
	for _, path := range []string{"/", "/anything"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "web-ubuntu-1-0\n" {
			t.Errorf("GET %s = %d %q", path, resp.StatusCode, b)
		}
	}
}

func TestPodServerStopsAndReportsListenErrors(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- PodServer(ctx, "p", "127.0.0.1:0") }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("PodServer after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("PodServer did not stop")
	}
	if err := PodServer(context.Background(), "p", "256.0.0.1:80"); err == nil || !strings.Contains(err.Error(), "listen 256.0.0.1:80") {
		t.Errorf("bad listen address: %v", err)
	}
}
