package k8s

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

// The integration tests run a real etcd and kube-apiserver on loopback,
// built and cached by hack/kube-apiserver.sh (KBGP_KUBE_ASSETS, default
// ~/.cache/kbgp/kube/<version>). One server is shared by the package's
// tests: started by the first test that needs it, stopped by TestMain.

const kubeVersion = "v1.34.4"

const adminToken = "kbgp-test-admin-token"

type apiServer struct {
	dir        string
	kubeconfig string
	kubectl    string
	admin      *rest.Config
	procs      []*proc
}

// proc is a process the test started; done closes when it has exited.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
}

var (
	serverOnce sync.Once
	server     *apiServer
	serverErr  error
	serverSkip string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if server != nil {
		server.stop()
	}
	os.Exit(code)
}

// assetsDir finds the binaries hack/kube-apiserver.sh installs.
func assetsDir() (string, string) {
	dir := os.Getenv("KBGP_KUBE_ASSETS")
	if dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return "", "no cache directory: " + err.Error()
		}
		dir = filepath.Join(cache, "kbgp", "kube", kubeVersion)
	}
	for _, b := range []string{"etcd", "kube-apiserver", "kubectl"} {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			return "", fmt.Sprintf("%s not found in %s: run hack/kube-apiserver.sh to build kube-apiserver %s and kubectl and install etcd", b, dir, kubeVersion)
		}
	}
	return dir, ""
}

// testServer returns the shared API server, starting it on first use.
func testServer(t *testing.T) *apiServer {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipping the kube-apiserver integration test")
	}
	serverOnce.Do(func() {
		assets, skip := assetsDir()
		if skip != "" {
			serverSkip = skip
			return
		}
		server, serverErr = startAPIServer(assets)
	})
	if serverSkip != "" {
		t.Skip(serverSkip)
	}
	if serverErr != nil {
		t.Fatal(serverErr)
	}
	return server
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func startAPIServer(assets string) (s *apiServer, err error) {
	dir, err := os.MkdirTemp("", "kbgp-k8s-test-")
	if err != nil {
		return nil, err
	}
	s = &apiServer{dir: dir, kubectl: filepath.Join(assets, "kubectl")}
	defer func() {
		if err != nil {
			s.stop()
		}
	}()
	var ports [3]int
	for i := range ports {
		if ports[i], err = freePort(); err != nil {
			return s, err
		}
	}
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	peerURL := "http://127.0.0.1:" + strconv.Itoa(ports[1])
	if err := s.spawn("etcd", filepath.Join(assets, "etcd"),
		"--data-dir", filepath.Join(dir, "etcd"), "--name", "default",
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "default="+peerURL, "--unsafe-no-fsync"); err != nil {
		return s, err
	}

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return s, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return s, err
	}
	files := map[string][]byte{
		"sa.key":     pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
		"sa.pub":     pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}),
		"tokens.csv": []byte(adminToken + ",admin,admin-uid,system:masters\n"),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return s, err
		}
	}
	port := strconv.Itoa(ports[2])
	if err := s.spawn("kube-apiserver", filepath.Join(assets, "kube-apiserver"),
		"--etcd-servers", etcdURL,
		"--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file", filepath.Join(dir, "sa.pub"),
		"--service-account-signing-key-file", filepath.Join(dir, "sa.key"),
		"--token-auth-file", filepath.Join(dir, "tokens.csv"),
		"--authorization-mode", "RBAC",
		"--secure-port", port, "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
		"--endpoint-reconciler-type", "none",
		"--cert-dir", filepath.Join(dir, "certs"),
		"--service-cluster-ip-range", "10.96.0.0/16"); err != nil {
		return s, err
	}
	host := "https://127.0.0.1:" + port
	s.admin = &rest.Config{Host: host, BearerToken: adminToken, TLSClientConfig: rest.TLSClientConfig{Insecure: true},
		QPS: 200, Burst: 400}
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: test
  cluster: {server: %q, insecure-skip-tls-verify: true}
users:
- name: admin
  user: {token: %q}
contexts:
- name: test
  context: {cluster: test, user: admin}
current-context: test
`, host, adminToken)
	s.kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(s.kubeconfig, []byte(kc), 0o600); err != nil {
		return s, err
	}
	// Ready when /readyz says ok (about 3 s idle, longer under load).
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		req, _ := http.NewRequest("GET", host+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		for _, p := range s.procs {
			select {
			case <-p.done:
				return s, fmt.Errorf("%s exited: %s\n%s", p.name, p.cmd.ProcessState, s.logTail(p.name))
			default:
			}
		}
		if time.Now().After(deadline) {
			return s, fmt.Errorf("kube-apiserver not ready after 3 minutes (last error %v)\n%s", err, s.logTail("kube-apiserver"))
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Our CRDs, RBAC and DaemonSet, through kubectl as a user would.
	if out, err := s.run("apply", "-k", filepath.Join(repoRootDir(), "deploy")); err != nil {
		return s, fmt.Errorf("kubectl apply -k deploy: %v\n%s", err, out)
	}
	if out, err := s.run("wait", "--for=condition=established", "--timeout=60s", "crd", "-l", "app.kubernetes.io/name=kbgp"); err != nil {
		return s, fmt.Errorf("waiting for the CRDs: %v\n%s", err, out)
	}
	return s, nil
}

func (s *apiServer) spawn(name, bin string, args ...string) error {
	log, err := os.Create(filepath.Join(s.dir, name+".log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	s.procs = append(s.procs, p)
	go func() {
		_ = cmd.Wait()
		log.Close()
		close(p.done)
	}()
	return nil
}

func (s *apiServer) logTail(name string) string {
	b, _ := os.ReadFile(filepath.Join(s.dir, name+".log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// stop kills the processes this test started, by PID, newest first, and
// removes the scratch directory.
func (s *apiServer) stop() {
	for i := len(s.procs) - 1; i >= 0; i-- {
		p := s.procs[i]
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	if os.Getenv("KBGP_KEEP_APISERVER_DIR") == "" {
		_ = os.RemoveAll(s.dir)
	}
}

// run runs kubectl against the server.
func (s *apiServer) run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.kubectl, append([]string{"--kubeconfig", s.kubeconfig}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return strings.TrimSpace(out.String()), err
}

// as returns a client configuration that impersonates the kbgp agent's
// ServiceAccount, so that tests run with exactly deploy/rbac.yaml's
// permissions.
func (s *apiServer) asAgent() *rest.Config {
	c := rest.CopyConfig(s.admin)
	c.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:kbgp-system:kbgp",
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:kbgp-system", "system:authenticated"},
	}
	return c
}

func repoRootDir() string {
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "."
		}
		dir = parent
	}
}
