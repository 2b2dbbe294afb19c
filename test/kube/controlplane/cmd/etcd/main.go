// Command etcd runs a single-member etcd for tests, on loopback only.
//
// It embeds go.etcd.io/etcd/server/v3 so the control plane builds from Go
// modules alone. It opens no peer listener: a one-member cluster never talks
// to peers. The client URL may use port 0; the address actually bound is
// written to --address-file once etcd is ready, so callers never race for a
// free port.
package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"go.etcd.io/etcd/api/v3/version"
	"go.etcd.io/etcd/server/v3/embed"
)

// startTimeout bounds how long etcd may take to become ready.
const startTimeout = time.Minute

func main() { os.Exit(run()) }

func run() int {
	var (
		dataDir     = flag.String("data-dir", "", "directory for etcd's data (required)")
		clientURL   = flag.String("listen-client-url", "http://127.0.0.1:0", "URL to serve clients on; its host must be a loopback address; port 0 picks a free port")
		addressFile = flag.String("address-file", "", "file to write the bound client URL to once ready")
		logLevel    = flag.String("log-level", "warn", "debug, info, warn or error")
		noFsync     = flag.Bool("unsafe-no-fsync", true, "skip fsync (test data is thrown away)")
		showVersion = flag.Bool("version", false, "print the etcd version and exit")
	)
	flag.Parse()
	if *showVersion {
		fmt.Println("etcd", version.Version, "(embedded, loopback only)")
		return 0
	}
	if err := serve(*dataDir, *clientURL, *addressFile, *logLevel, *noFsync); err != nil {
		fmt.Fprintln(os.Stderr, "etcd:", err)
		return 1
	}
	return 0
}

func serve(dataDir, clientURL, addressFile, logLevel string, noFsync bool) error {
	if dataDir == "" {
		return errors.New("--data-dir is required")
	}
	cu, err := url.Parse(clientURL)
	if err != nil {
		return fmt.Errorf("--listen-client-url: %w", err)
	}
	if ip := net.ParseIP(cu.Hostname()); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("--listen-client-url %q: host must be a loopback IP address", clientURL)
	}

	// The advertised peer URL only names the member inside its own cluster;
	// nothing listens on it and nothing dials it.
	const selfPeer = "http://127.0.0.1:2380"
	pu, _ := url.Parse(selfPeer)

	cfg := embed.NewConfig()
	cfg.Name = "chatops-test"
	cfg.Dir = dataDir
	cfg.ListenPeerUrls = nil
	cfg.AdvertisePeerUrls = []url.URL{*pu}
	cfg.InitialCluster = cfg.Name + "=" + selfPeer
	cfg.ListenClientUrls = []url.URL{*cu}
	cfg.AdvertiseClientUrls = []url.URL{*cu}
	cfg.LogLevel = logLevel
	cfg.LogOutputs = []string{"stderr"}
	cfg.UnsafeNoFsync = noFsync

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	defer e.Close()

	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		return fmt.Errorf("serve: %w", err)
	case <-time.After(startTimeout):
		e.Server.Stop()
		return fmt.Errorf("not ready after %s", startTimeout)
	}

	bound := url.URL{Scheme: cu.Scheme, Host: e.Clients[0].Addr().String()}
	fmt.Fprintln(os.Stderr, "etcd: ready, serving clients on", bound.String())
	if addressFile != "" {
		if err := writeAtomically(addressFile, bound.String()+"\n"); err != nil {
			return fmt.Errorf("--address-file: %w", err)
		}
	}

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-stop:
		return nil
	case err := <-e.Err():
		return fmt.Errorf("serve: %w", err)
	}
}

// writeAtomically makes the file appear whole, so a poller never reads half
// an address.
func writeAtomically(path, content string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".address-*")
	if err != nil {
		return err
	}
	if _, err := tmp.WriteString(content); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}
