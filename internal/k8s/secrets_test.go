package k8s

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestWatchSecrets: the agent's ServiceAccount reads the BGP password
// Secrets of its own namespace, follows creation, rotation and deletion,
// and is refused (with a pointer to the Role) anywhere else.
func TestWatchSecrets(t *testing.T) {
	f := newFixture(t)
	agent := agentDatastore(t, f, ModeKBGP)
	ctx, cancel := context.WithCancel(f.ctx)
	defer cancel()
	ch, err := agent.WatchSecrets(ctx, DefaultNamespace)
	if err != nil {
		t.Fatal(err)
	}
	next := func(what string, ok func(map[string]map[string]string) bool) {
		t.Helper()
		deadline := time.After(30 * time.Second)
		for {
			select {
			case m, open := <-ch:
				if !open {
					t.Fatalf("%s: watch closed", what)
				}
				if ok(m) {
					return
				}
			case <-deadline:
				t.Fatalf("%s: not seen within 30 s", what)
			}
		}
	}
	next("initial set", func(map[string]map[string]string) bool { return true })

	secrets := f.kube.CoreV1().Secrets(DefaultNamespace)
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "bgp-passwords"}, StringData: map[string]string{"rack1-tor": "s3cret"}}
	if _, err := secrets.Create(f.ctx, s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = secrets.Delete(context.Background(), "bgp-passwords", metav1.DeleteOptions{}) })
	next("created", func(m map[string]map[string]string) bool { return m["bgp-passwords"]["rack1-tor"] == "s3cret" })

	s.StringData = map[string]string{"rack1-tor": "rotated"}
	if _, err := secrets.Update(f.ctx, s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	next("rotated", func(m map[string]map[string]string) bool { return m["bgp-passwords"]["rack1-tor"] == "rotated" })

	if err := secrets.Delete(f.ctx, "bgp-passwords", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	next("deleted", func(m map[string]map[string]string) bool { _, ok := m["bgp-passwords"]; return !ok })

	_, err = agent.WatchSecrets(ctx, "default")
	if err == nil || !strings.Contains(err.Error(), "kbgp-secrets Role") {
		t.Errorf("watching secrets in another namespace: %v, want forbidden naming the Role", err)
	}
}
