package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// PodServer answers every HTTP request with the pod's name and a newline,
// which is how `lab check` tells which pod a service sent it to.
// It returns when ctx ends.
func PodServer(ctx context.Context, name, listen string) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("lab pod-server %s: listen %s: %w", name, listen, err)
	}
	srv := &http.Server{
		Handler:           podHandler(name),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("lab pod-server %s: %w", name, err)
	}
	return nil
}

func podHandler(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, name)
	})
}
