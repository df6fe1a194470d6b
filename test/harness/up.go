package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// clusterInfo is written to DIR/cluster.json once the control plane is ready;
// the Node test setup reads it.
type clusterInfo struct {
	Server          string `json:"server"`
	Kubeconfig      string `json:"kubeconfig"`
	CAFile          string `json:"caFile"`
	EtcdURL         string `json:"etcdUrl"`
	APIServerPID    int    `json:"apiserverPid"`
	ControllerMgrPI int    `json:"controllerManagerPid"`
	StartupMillis   int64  `json:"startupMillis"`
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func mustURL(raw string) url.URL {
	u, err := url.Parse(raw)
	if err != nil {
		panic(err)
	}
	return *u
}

// startEtcd runs a single-member etcd inside this process, on loopback, with
// fsync off: the data lives only as long as the test run.
func startEtcd(dir string) (*embed.Etcd, string, error) {
	clientPort, err := freePort()
	if err != nil {
		return nil, "", err
	}
	peerPort, err := freePort()
	if err != nil {
		return nil, "", err
	}
	cfg := embed.NewConfig()
	cfg.Name = "pier-test"
	cfg.Dir = filepath.Join(dir, "etcd")
	clientURL := mustURL("http://127.0.0.1:" + strconv.Itoa(clientPort))
	peerURL := mustURL("http://127.0.0.1:" + strconv.Itoa(peerPort))
	cfg.ListenClientUrls = []url.URL{clientURL}
	cfg.AdvertiseClientUrls = []url.URL{clientURL}
	cfg.ListenPeerUrls = []url.URL{peerURL}
	cfg.AdvertisePeerUrls = []url.URL{peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.UnsafeNoFsync = true
	cfg.LogLevel = "error"
	cfg.LogOutputs = []string{filepath.Join(dir, "etcd.log")}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, "", err
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(60 * time.Second):
		e.Close()
		return nil, "", errors.New("etcd did not become ready within 60s")
	}
	return e, clientURL.String(), nil
}

// startComponent re-executes this binary as one Kubernetes component, its
// output going to DIR/<name>.log. The child dies with this process.
func startComponent(dir, name string, args []string) (*exec.Cmd, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, append([]string{name}, args...)...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return cmd, nil
}

// adminClient is an HTTP client authenticated as the admin.
func adminClient(p *pki) (*http.Client, error) {
	caPEM, err := os.ReadFile(p.caCert)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	cert, err := tls.LoadX509KeyPair(p.adminCert, p.adminKey)
	if err != nil {
		return nil, err
	}
	return &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}},
	}, nil
}

// waitFor polls url until it answers 200 or the deadline passes; exited
// reports whether the process we are waiting on has died.
func waitFor(client *http.Client, url string, timeout time.Duration, exited <-chan struct{}) error {
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("process exited while waiting for %s", url)
		default:
		}
		resp, err := client.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, body)
		} else {
			last = err.Error()
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready after %s: %s", url, timeout, last)
}

func watchExit(cmd *exec.Cmd) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(ch)
	}()
	return ch
}

func stop(cmd *exec.Cmd, exited <-chan struct{}) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}

func runUp(args []string) int {
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	dir := fs.String("dir", "", "state directory (certs, kubeconfig, logs, etcd data); created if missing")
	timeout := fs.Duration("timeout", 3*time.Minute, "how long to wait for the control plane to become ready")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "up: --dir is required")
		return 2
	}
	started := time.Now()
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		fmt.Fprintf(os.Stderr, "up: %v\n", err)
		return 1
	}
	abs, _ := filepath.Abs(*dir)
	code, err := up(abs, *timeout, started)
	if err != nil {
		fmt.Fprintf(os.Stderr, "up: %v (logs in %s)\n", err, abs)
	}
	return code
}

func up(dir string, timeout time.Duration, started time.Time) (int, error) {
	p, err := makePKI(dir)
	if err != nil {
		return 1, err
	}
	etcd, etcdURL, err := startEtcd(dir)
	if err != nil {
		return 1, fmt.Errorf("etcd: %w", err)
	}
	defer etcd.Close()

	port, err := freePort()
	if err != nil {
		return 1, err
	}
	server := "https://127.0.0.1:" + strconv.Itoa(port)
	apiserver, err := startComponent(dir, "kube-apiserver", []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		// Never contacted: the reconciler that would publish it is off.
		"--advertise-address=192.0.2.1",
		"--endpoint-reconciler-type=none",
		"--service-cluster-ip-range=10.96.0.0/16",
		"--client-ca-file=" + p.caCert,
		"--tls-cert-file=" + p.servingCert,
		"--tls-private-key-file=" + p.servingK,
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + p.saPub,
		"--service-account-signing-key-file=" + p.saKey,
		"--authorization-mode=RBAC",
		"--allow-privileged=true",
		"--cert-dir=" + filepath.Join(dir, "apiserver-certs"),
		"--profiling=false",
		"--event-ttl=15m",
	})
	if err != nil {
		return 1, fmt.Errorf("kube-apiserver: %w", err)
	}
	apiExited := watchExit(apiserver)
	defer stop(apiserver, apiExited)

	client, err := adminClient(p)
	if err != nil {
		return 1, err
	}
	if err := waitFor(client, server+"/readyz", timeout, apiExited); err != nil {
		return 1, fmt.Errorf("kube-apiserver: %w", err)
	}

	adminKubeconfig := filepath.Join(dir, "admin.kubeconfig")
	if err := writeKubeconfig(adminKubeconfig, server, p.caCert, p.adminCert, p.adminKey, "pier-admin"); err != nil {
		return 1, err
	}
	kcmKubeconfig := filepath.Join(dir, "controller-manager.kubeconfig")
	if err := writeKubeconfig(kcmKubeconfig, server, p.caCert, p.kcmCert, p.kcmKey, "system:kube-controller-manager"); err != nil {
		return 1, err
	}
	kcm, err := startComponent(dir, "kube-controller-manager", []string{
		"--kubeconfig=" + kcmKubeconfig,
		"--authentication-kubeconfig=" + kcmKubeconfig,
		"--authorization-kubeconfig=" + kcmKubeconfig,
		"--bind-address=127.0.0.1",
		"--secure-port=0",
		"--leader-elect=false",
		"--root-ca-file=" + p.caCert,
		"--service-account-private-key-file=" + p.saKey,
		"--use-service-account-credentials=true",
		// There is no kubelet: without heartbeats the node lifecycle
		// controller would mark the suite's stand-in Pods NotReady.
		"--controllers=*,-node-lifecycle-controller,-taint-eviction-controller",
		"--profiling=false",
	})
	if err != nil {
		return 1, fmt.Errorf("kube-controller-manager: %w", err)
	}
	kcmExited := watchExit(kcm)
	defer stop(kcm, kcmExited)
	// The ServiceAccount controller creating "default" in "default" shows the
	// controller-manager is talking to the API server and running controllers.
	if err := waitFor(client, server+"/api/v1/namespaces/default/serviceaccounts/default", timeout, kcmExited); err != nil {
		return 1, fmt.Errorf("kube-controller-manager: %w", err)
	}

	info := clusterInfo{
		Server:          server,
		Kubeconfig:      adminKubeconfig,
		CAFile:          p.caCert,
		EtcdURL:         etcdURL,
		APIServerPID:    apiserver.Process.Pid,
		ControllerMgrPI: kcm.Process.Pid,
		StartupMillis:   time.Since(started).Milliseconds(),
	}
	data, _ := json.MarshalIndent(info, "", "  ")
	// Write then rename, so a reader never sees a half-written file.
	tmp := filepath.Join(dir, "cluster.json.tmp")
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return 1, err
	}
	if err := os.Rename(tmp, filepath.Join(dir, "cluster.json")); err != nil {
		return 1, err
	}
	fmt.Printf("ready %s kubeconfig=%s (%dms)\n", server, adminKubeconfig, info.StartupMillis)

	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer cancel()
	// When started from a pipe, the parent going away closes our stdin: stop then.
	go func() {
		if fi, err := os.Stdin.Stat(); err == nil && fi.Mode()&os.ModeNamedPipe != 0 {
			_, _ = io.Copy(io.Discard, os.Stdin)
			cancel()
		}
	}()
	select {
	case <-ctx.Done():
		return 0, nil
	case <-apiExited:
		return 1, errors.New("kube-apiserver exited")
	case <-kcmExited:
		return 1, errors.New("kube-controller-manager exited")
	}
}
