package prov_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/libprov/libprov/bindings/go/prov"
)

// Register runs on libprov's own thread (prov_client_register_async); the
// progress reaches the handler in order, on the goroutine that called
// Register, before Register returns.
func TestProgressReachesHandlerInOrder(t *testing.T) {
	var seen []prov.Progress
	client := newClient(t, "go-dev-1", prov.WithProgress(func(p prov.Progress) { seen = append(seen, p) }))
	result, err := registerWithin(t, client, 20*time.Second)
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	if len(seen) < 4 {
		t.Fatalf("progress %v; want at least connecting, connected, registering, assigned", seen)
	}
	if seen[0].State != prov.ProgressConnecting || !strings.Contains(seen[0].Detail, emu.mqttHost) {
		t.Fatalf("first progress %+v; want connecting to %s", seen[0], emu.mqttHost)
	}
	last := seen[len(seen)-1]
	if last.State != prov.ProgressAssigned || last.Detail != result.AssignedHub {
		t.Fatalf("last progress %+v; want assigned to %q", last, result.AssignedHub)
	}
	order := map[prov.ProgressState]int{}
	for index, p := range seen {
		if _, ok := order[p.State]; !ok {
			order[p.State] = index
		}
	}
	if !(order[prov.ProgressConnecting] < order[prov.ProgressConnected] &&
		order[prov.ProgressConnected] < order[prov.ProgressRegistering]) {
		t.Fatalf("progress out of order: %v", seen)
	}
	if prov.ProgressAssigning.String() != "assigning" {
		t.Fatalf("ProgressAssigning.String() = %q", prov.ProgressAssigning.String())
	}

	// A failed registration ends with ProgressFailed naming the status.
	seen = nil
	rejected, err := prov.NewSymmetricKeyClient(emu.mqttHost, "go-dev-1", idScope, wrongKey,
		prov.WithServerVerificationCert(emu.caPEM),
		prov.WithProgress(func(p prov.Progress) { seen = append(seen, p) }))
	if err != nil {
		t.Fatal(err)
	}
	defer rejected.Close()
	if _, err := registerWithin(t, rejected, 20*time.Second); !errors.Is(err, prov.ErrCredential) {
		t.Fatalf("wrong key: %v; want ErrCredential", err)
	}
	if len(seen) == 0 || seen[len(seen)-1].State != prov.ProgressFailed ||
		!strings.HasPrefix(seen[len(seen)-1].Detail, "PROV_E_CREDENTIAL") {
		t.Fatalf("progress of the rejected registration: %v", seen)
	}
}

// Many registrations in flight at once, each on a client of its own: every
// completion reaches its own Register (the cgo handles route them).
func TestManyAsyncRegistrationsInFlight(t *testing.T) {
	const count = 24
	errs := make(chan error, count)
	for index := 0; index < count; index++ {
		go func() {
			client, err := prov.NewSymmetricKeyClient(emu.mqttHost, "go-dev-1", idScope, deviceKey,
				prov.WithServerVerificationCert(emu.caPEM))
			if err != nil {
				errs <- err
				return
			}
			defer client.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			result, err := client.Register(ctx)
			if err == nil && result.DeviceID != "go-device-one" {
				err = errors.New("device id " + result.DeviceID)
			}
			errs <- err
		}()
	}
	for index := 0; index < count; index++ {
		if err := <-errs; err != nil {
			t.Errorf("registration: %v", err)
		}
	}
}

// The issued chain as DER (prov_result_issued_certificate_der) is the PEM
// chain's content, and a CSR given as DER (prov_client_set_csr_der) gets
// the caller's own key certified.
func TestIssuedCertificatesAsDERAndCSRAsDER(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader,
		&x509.CertificateRequest{Subject: pkix.Name{CommonName: "go-dev-1"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	client := newClient(t, "go-dev-1", prov.WithCSRDER(csr))
	result, err := registerWithin(t, client, 20*time.Second)
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	if result.IssuedCertificateCount < 1 || len(result.IssuedCertificatesDER) != result.IssuedCertificateCount {
		t.Fatalf("%d certificates, %d as DER", result.IssuedCertificateCount, len(result.IssuedCertificatesDER))
	}
	if result.GeneratedPrivateKeyPEM != "" {
		t.Fatal("a private key came back for a caller-made CSR")
	}
	rest := []byte(result.IssuedCertificateChainPEM)
	for index, der := range result.IssuedCertificatesDER {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil || string(block.Bytes) != string(der) {
			t.Fatalf("certificate %d: DER differs from the PEM chain", index)
		}
	}
	leaf, err := x509.ParseCertificate(result.IssuedCertificatesDER[0])
	if err != nil {
		t.Fatalf("leaf: %v", err)
	}
	if !key.PublicKey.Equal(leaf.PublicKey) || leaf.Subject.CommonName != "go-dev-1" {
		t.Fatalf("leaf for %q does not certify the CSR's key", leaf.Subject.CommonName)
	}

	// Bytes that are no CSR are refused when set, naming the problem.
	_, err = prov.NewSymmetricKeyClient(emu.mqttHost, "go-dev-1", idScope, deviceKey,
		prov.WithCSRDER([]byte{0x30, 0x03, 0x02, 0x01, 0x00}))
	if !errors.Is(err, prov.ErrCertificate) && !errors.Is(err, prov.ErrInvalidArgument) {
		t.Fatalf("garbage CSR: %v; want ErrCertificate", err)
	}
}

// osThreads is the number of OS threads of this process.
func osThreads(t *testing.T) int {
	t.Helper()
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if value, ok := strings.CutPrefix(line, "Threads:"); ok {
			count, err := strconv.Atoi(strings.TrimSpace(value))
			if err != nil {
				t.Fatal(err)
			}
			return count
		}
	}
	t.Fatal("no Threads: line in /proc/self/status")
	return 0
}

// Registrations waiting for the service hold no OS thread each: Register
// waits in Go while libprov's event loop runs them (a blocking cgo call per
// registration would park one thread each).
func TestRegistrationsInFlightHoldNoThreadEach(t *testing.T) {
	const count = 100
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	registering := make(chan struct{}, count)
	errs := make(chan error, count)
	before := osThreads(t)
	for index := 0; index < count; index++ {
		sent := false
		client := newClient(t, "go-silent", prov.WithRegisterTimeout(60*time.Second),
			prov.WithProgress(func(p prov.Progress) {
				if p.State == prov.ProgressRegistering && !sent {
					sent = true
					registering <- struct{}{}
				}
			}))
		go func() {
			_, err := client.Register(ctx)
			errs <- err
		}()
	}
	deadline := time.After(45 * time.Second)
	for index := 0; index < count; index++ {
		select {
		case <-registering:
		case err := <-errs:
			t.Fatalf("a registration ended early: %v", err)
		case <-deadline:
			t.Fatalf("only %d of %d registrations sent their request", index, count)
		}
	}
	during := osThreads(t)
	cancel()
	for index := 0; index < count; index++ {
		if err := <-errs; !errors.Is(err, prov.ErrCancelled) {
			t.Errorf("registration %d: %v; want ErrCancelled", index, err)
		}
	}
	// A thread per registration would add 100; the event loop, the
	// dispatcher and the Go runtime's own threads stay far below that.
	if during-before > 40 {
		t.Fatalf("%d registrations in flight took %d -> %d OS threads", count, before, during)
	}
	t.Logf("%d registrations in flight: %d -> %d OS threads", count, before, during)
}

// WithLog receives libprov's log lines (through the same dispatcher as the
// progress), in order, before Register returns, and never a secret.
func TestLogLinesReachHandler(t *testing.T) {
	var lines []string
	client := newClient(t, "go-dev-1", prov.WithLog(prov.LogDebug, func(level prov.LogLevel, message string) {
		lines = append(lines, level.String()+": "+message)
	}))
	if _, err := registerWithin(t, client, 20*time.Second); err != nil {
		t.Fatalf("Register: %v", err)
	}
	if len(lines) == 0 {
		t.Fatal("no log lines at debug level")
	}
	for _, line := range lines {
		if strings.Contains(line, deviceKey) {
			t.Fatalf("the key leaked into a log line: %q", line)
		}
	}
	// Errors only: a successful registration logs nothing at that level.
	var errorLines []string
	quiet := newClient(t, "go-dev-1", prov.WithLog(prov.LogError, func(level prov.LogLevel, message string) {
		errorLines = append(errorLines, message)
	}))
	if _, err := registerWithin(t, quiet, 20*time.Second); err != nil {
		t.Fatalf("Register: %v", err)
	}
	if len(errorLines) != 0 {
		t.Fatalf("error-level lines for a successful registration: %q", errorLines)
	}
}
