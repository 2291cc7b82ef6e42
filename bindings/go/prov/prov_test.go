package prov_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libprov/libprov/bindings/go/prov"
)

var (
	emu   *emulator
	certs *x509Credentials
)

func TestMain(m *testing.M) {
	var err error
	if certs, err = makeX509Credentials(); err != nil {
		fmt.Fprintln(os.Stderr, "cannot make X.509 test credentials:", err)
		os.Exit(1)
	}
	emu, err = startEmulator(emulatorConfig(certs))
	if err != nil {
		fmt.Fprintln(os.Stderr, "cannot start dps-emulator:", err)
		os.RemoveAll(certs.dir)
		os.Exit(1)
	}
	code := m.Run()
	emu.stop()
	os.RemoveAll(certs.dir)
	os.Exit(code)
}

// newClient makes a client for the emulator; t fails if that fails.
func newClient(t *testing.T, registrationID string, options ...prov.Option) *prov.Client {
	t.Helper()
	options = append([]prov.Option{prov.WithServerVerificationCert(emu.caPEM)}, options...)
	client, err := prov.NewSymmetricKeyClient(emu.mqttHost, registrationID, idScope, deviceKey, options...)
	if err != nil {
		t.Fatalf("NewSymmetricKeyClient: %v", err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}

func registerWithin(t *testing.T, client *prov.Client, timeout time.Duration) (*prov.Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return client.Register(ctx)
}

func TestSymmetricKeyRegistration(t *testing.T) {
	client := newClient(t, "go-dev-1")
	result, err := registerWithin(t, client, 20*time.Second)
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	if result.Status != "assigned" || result.DeviceID != "go-device-one" || result.RegistrationID != "go-dev-1" {
		t.Fatalf("unexpected result %+v", result)
	}
	if !slices.Contains(hubs, result.AssignedHub) {
		t.Fatalf("assigned hub %q is not one of %v", result.AssignedHub, hubs)
	}
	if result.OperationID == "" || result.ETag == "" || result.CreatedDateTime == "" ||
		result.LastUpdateDateTime == "" || result.Substatus != "initialAssignment" {
		t.Fatalf("missing fields in %+v", result)
	}
	if result.Payload != nil || result.HTTPStatus != 200 {
		t.Fatalf("payload %q, HTTP status %d", result.Payload, result.HTTPStatus)
	}
	var state map[string]any
	if err := json.Unmarshal(result.RegistrationState, &state); err != nil || state["assignedHub"] != result.AssignedHub {
		t.Fatalf("registration state %s (%v)", result.RegistrationState, err)
	}
}

func TestGroupEnrollmentWithDerivedKey(t *testing.T) {
	key, err := prov.DeriveDeviceKey(groupKey, "go-member-7")
	if err != nil {
		t.Fatal(err)
	}
	client, err := prov.NewSymmetricKeyClient(emu.mqttHost, "go-member-7", idScope, key,
		prov.WithServerVerificationCert(emu.caPEM))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	result, err := registerWithin(t, client, 20*time.Second)
	if err != nil || result.DeviceID != "go-member-7" {
		t.Fatalf("result %+v, error %v", result, err)
	}
}

func TestSymmetricKeyGroupClient(t *testing.T) {
	client, err := prov.NewSymmetricKeyGroupClient(emu.mqttHost, "go-member-9", idScope, groupKey,
		prov.WithServerVerificationCert(emu.caPEM))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	result, err := registerWithin(t, client, 20*time.Second)
	if err != nil || result.DeviceID != "go-member-9" || result.EnrollmentGroupID != "go-group" {
		t.Fatalf("result %+v, error %v", result, err)
	}
}

func TestX509Registration(t *testing.T) {
	client, err := prov.NewX509Client(emu.mqttHost, certs.registrationID, idScope, certs.deviceCert,
		certs.deviceKey, "", prov.WithServerVerificationCert(emu.caPEM))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	result, err := registerWithin(t, client, 20*time.Second)
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	if result.DeviceID != certs.registrationID || result.EnrollmentGroupID != "go-x509-group" ||
		!slices.Contains(hubs, result.AssignedHub) {
		t.Fatalf("unexpected result %+v", result)
	}
	var x509 struct {
		EnrollmentGroupID string `json:"enrollmentGroupId"`
	}
	if err := json.Unmarshal(result.X509, &x509); err != nil || x509.EnrollmentGroupID != "go-x509-group" {
		t.Fatalf("registrationState.x509 %s (%v)", result.X509, err)
	}
	// certificateInfo is passed through when the service sends it (dps-emulator does not).
	if result.X509CertificateInfo != nil && !json.Valid(result.X509CertificateInfo) {
		t.Fatalf("certificate info %s", result.X509CertificateInfo)
	}
}

func TestX509FromPEMOverHTTPS(t *testing.T) {
	certPEM, _ := os.ReadFile(certs.deviceCert)
	keyPEM, _ := os.ReadFile(certs.deviceKey)
	client, err := prov.NewX509ClientFromPEM(emu.httpsHost, certs.registrationID, idScope, string(certPEM),
		string(keyPEM), "", prov.WithServerVerificationCert(emu.caPEM), prov.WithTransport(prov.TransportHTTPS))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	result, err := registerWithin(t, client, 20*time.Second)
	if err != nil || result.DeviceID != certs.registrationID {
		t.Fatalf("result %+v, error %v", result, err)
	}
}

func TestX509CredentialProblemsAreErrCertificate(t *testing.T) {
	// The CA's key does not match the device certificate.
	_, err := prov.NewX509Client(emu.mqttHost, certs.registrationID, idScope, certs.deviceCert, certs.caKey, "")
	if !errors.Is(err, prov.ErrCertificate) {
		t.Fatalf("mismatched key: %v; want ErrCertificate", err)
	}
	_, err = prov.NewX509Client(emu.mqttHost, certs.registrationID, idScope, certs.dir+"/missing.pem", certs.deviceKey, "")
	if !errors.Is(err, prov.ErrCertificate) || !strings.Contains(err.Error(), "missing.pem") {
		t.Fatalf("missing file: %v; want ErrCertificate naming the file", err)
	}
}

func TestTransports(t *testing.T) {
	for _, c := range []struct {
		name      string
		transport prov.Transport
		host      string
	}{
		{"mqtt", prov.TransportMQTT, emu.mqttHost},
		{"mqtt-ws", prov.TransportMQTTWebSockets, emu.httpsHost},
		{"https", prov.TransportHTTPS, emu.httpsHost},
	} {
		t.Run(c.name, func(t *testing.T) {
			client, err := prov.NewSymmetricKeyClient(c.host, "go-dev-1", idScope, deviceKey,
				prov.WithServerVerificationCert(emu.caPEM), prov.WithTransport(c.transport))
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			result, err := registerWithin(t, client, 20*time.Second)
			if err != nil || result.DeviceID != "go-device-one" {
				t.Fatalf("result %+v, error %v", result, err)
			}
		})
	}
}

func TestCertificateIssuance(t *testing.T) {
	client := newClient(t, "go-dev-1", prov.WithCSR(prov.KeyECP256))
	result, err := registerWithin(t, client, 20*time.Second)
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	if result.IssuedCertificateCount < 1 || !strings.HasPrefix(result.IssuedCertificateChainPEM, "-----BEGIN CERTIFICATE-----") ||
		!strings.Contains(result.GeneratedPrivateKeyPEM, "PRIVATE KEY-----") {
		t.Fatalf("issued %d certificate(s): %.60q..., key present: %v", result.IssuedCertificateCount,
			result.IssuedCertificateChainPEM, result.GeneratedPrivateKeyPEM != "")
	}
}

func TestUnreachableProxyIsConnectionFailed(t *testing.T) {
	// A port nobody listens on: the proxy connection is refused.
	// No retries: a refused connection is transient, and retrying it only slows the test.
	client := newClient(t, "go-dev-1", prov.WithProxyURL("socks5://user:secret-password@127.0.0.1:1"),
		prov.WithRetryPolicy(0, time.Second, time.Second))
	_, err := registerWithin(t, client, 20*time.Second)
	if !errors.Is(err, prov.ErrConnectionFailed) || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("error %v; want ErrConnectionFailed naming the proxy", err)
	}
	if strings.Contains(err.Error(), "secret-password") {
		t.Fatal("the proxy password leaked into the error")
	}
	if _, err := prov.NewSymmetricKeyClient("h", "dev", idScope, deviceKey, prov.WithProxyURL("gopher://p:1")); !errors.Is(err, prov.ErrInvalidArgument) {
		t.Fatalf("unknown proxy scheme: %v; want ErrInvalidArgument", err)
	}
}

func TestPayloadRoundTrip(t *testing.T) {
	sent := map[string]any{"modelId": "dtmi:x;1", "a": []any{1.0, 2.0, map[string]any{"b": nil}}}
	client := newClient(t, "go-echo", prov.WithProvisioningPayloadValue(sent))
	result, err := registerWithin(t, client, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var echoed map[string]any
	if err := json.Unmarshal(result.Payload, &echoed); err != nil {
		t.Fatalf("payload %q: %v", result.Payload, err)
	}
	if fmt.Sprint(echoed) != fmt.Sprint(sent) {
		t.Fatalf("echoed %v, sent %v", echoed, sent)
	}
	// Cleared again: no payload sent, none echoed.
	if err := client.SetProvisioningPayload(nil); err != nil {
		t.Fatal(err)
	}
	result, err = registerWithin(t, client, 20*time.Second)
	if err != nil || result.Payload != nil {
		t.Fatalf("payload %q after clearing, error %v", result.Payload, err)
	}
	// Invalid JSON is refused when set, naming the problem.
	err = client.SetProvisioningPayload([]byte("{not json"))
	if !errors.Is(err, prov.ErrInvalidArgument) {
		t.Fatalf("invalid payload: %v", err)
	}
}

func TestWrongKeyIsCredentialErrorWithServiceDetails(t *testing.T) {
	client, err := prov.NewSymmetricKeyClient(emu.mqttHost, "go-dev-1", idScope, wrongKey,
		prov.WithServerVerificationCert(emu.caPEM))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	result, err := registerWithin(t, client, 20*time.Second)
	if result != nil || !errors.Is(err, prov.ErrCredential) {
		t.Fatalf("result %+v, error %v; want ErrCredential", result, err)
	}
	if errors.Is(err, prov.ErrTimeout) || errors.Is(err, prov.ErrService) {
		t.Fatalf("error %v matches other sentinels too", err)
	}
	var failure *prov.Error
	if !errors.As(err, &failure) || failure.Status != prov.StatusCredential || failure.Op != "register" {
		t.Fatalf("errors.As *Error: %#v", err)
	}
	var serviceErr *prov.ServiceError
	if !errors.As(err, &serviceErr) {
		t.Fatalf("no *ServiceError in %v", err)
	}
	if serviceErr.Code < 401000 || serviceErr.Code > 401999 || serviceErr.HTTPStatus != 401 || serviceErr.TrackingID == "" {
		t.Fatalf("service details %+v", serviceErr)
	}
	text := err.Error()
	if !strings.Contains(text, "PROV_E_CREDENTIAL") || !strings.Contains(text, strconv.Itoa(int(serviceErr.Code))) {
		t.Fatalf("message %q lacks the status or code", text)
	}
	if strings.Contains(text, wrongKey) {
		t.Fatal("the key leaked into the error message")
	}
}

func TestSilentServiceTimesOutAtContextDeadline(t *testing.T) {
	client := newClient(t, "go-silent")
	started := time.Now()
	result, err := registerWithin(t, client, 2*time.Second)
	elapsed := time.Since(started)
	if result != nil || !errors.Is(err, prov.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("result %+v, error %v; want ErrTimeout and DeadlineExceeded", result, err)
	}
	if elapsed < 1500*time.Millisecond || elapsed > 10*time.Second {
		t.Fatalf("gave up after %v, want about 2 s", elapsed)
	}
}

func TestSilentServiceTimesOutAtRegisterTimeout(t *testing.T) {
	client := newClient(t, "go-silent", prov.WithRegisterTimeout(1500*time.Millisecond))
	started := time.Now()
	_, err := client.Register(context.Background())
	elapsed := time.Since(started)
	if !errors.Is(err, prov.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v; want ErrTimeout only", err)
	}
	if elapsed < time.Second || elapsed > 10*time.Second {
		t.Fatalf("gave up after %v, want about 1.5 s", elapsed)
	}
}

func TestContextAlreadyDone(t *testing.T) {
	client := newClient(t, "go-dev-1")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := client.Register(ctx)
	if !errors.Is(err, prov.ErrCancelled) || !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v; want ErrCancelled and context.Canceled", err)
	}
	expired, cancelExpired := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancelExpired()
	_, err = client.Register(expired)
	if !errors.Is(err, prov.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v; want ErrTimeout and DeadlineExceeded", err)
	}
}

func TestContextCancellationStopsRegistration(t *testing.T) {
	client := newClient(t, "go-silent", prov.WithRegisterTimeout(20*time.Second))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	started := time.Now()
	_, err := client.Register(ctx)
	elapsed := time.Since(started)
	if !errors.Is(err, prov.ErrCancelled) || !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v; want ErrCancelled and context.Canceled", err)
	}
	if elapsed > 3*time.Second {
		t.Fatalf("cancelled after %v, want well under the 20 s timeout", elapsed)
	}
	// The client registers again afterwards.
	if _, err := registerWithin(t, client, 1500*time.Millisecond); !errors.Is(err, prov.ErrTimeout) {
		t.Fatalf("after cancellation: %v; want ErrTimeout from the silent service", err)
	}
}

// Contexts cancelled while Register starts end it at once, whichever step
// the cancel meets (the registration counts as in flight from the moment
// prov_client_register_async returns, so one cancel always lands).
func TestEarlyContextCancellation(t *testing.T) {
	client := newClient(t, "go-silent", prov.WithRegisterTimeout(20*time.Second))
	for attempt := 0; attempt < 20; attempt++ {
		ctx, cancel := context.WithCancel(context.Background())
		go cancel()
		started := time.Now()
		_, err := client.Register(ctx)
		if !errors.Is(err, prov.ErrCancelled) && !errors.Is(err, context.Canceled) {
			t.Fatalf("attempt %d: %v; want a cancellation", attempt, err)
		}
		if elapsed := time.Since(started); elapsed > 3*time.Second {
			t.Fatalf("attempt %d: cancelled after %v", attempt, elapsed)
		}
	}
}

func TestRetryPolicyOption(t *testing.T) {
	client := newClient(t, "go-dev-1", prov.WithRetryPolicy(3, 100*time.Millisecond, time.Second))
	if _, err := registerWithin(t, client, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	_, err := prov.NewSymmetricKeyClient("h", "dev", idScope, deviceKey,
		prov.WithRetryPolicy(3, 2*time.Second, time.Second))
	if !errors.Is(err, prov.ErrInvalidArgument) {
		t.Fatalf("max backoff below the initial one: %v; want ErrInvalidArgument", err)
	}
}

func TestUntrustedServerIsConnectionFailed(t *testing.T) {
	client, err := prov.NewSymmetricKeyClient(emu.mqttHost, "go-dev-1", idScope, deviceKey)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	_, err = registerWithin(t, client, 20*time.Second)
	if !errors.Is(err, prov.ErrConnectionFailed) {
		t.Fatalf("error %v; want ErrConnectionFailed", err)
	}
	var serviceErr *prov.ServiceError
	if errors.As(err, &serviceErr) {
		t.Fatalf("no service answered, yet %+v", serviceErr)
	}
}

func TestInvalidArgumentsNameTheProblem(t *testing.T) {
	cases := []struct {
		name    string
		regID   string
		key     string
		options []prov.Option
		want    string
	}{
		{"registration id", "bad id", deviceKey, nil, "registration_id"},
		{"key", "dev", "not base64", nil, "symmetric_key"},
		{"keep-alive range", "dev", deviceKey, []prov.Option{prov.WithKeepAlive(5000 * time.Second)}, "keep"},
		{"keep-alive fraction", "dev", deviceKey, []prov.Option{prov.WithKeepAlive(1500 * time.Millisecond)}, "whole seconds"},
		{"register timeout", "dev", deviceKey, []prov.Option{prov.WithRegisterTimeout(0)}, "timeout"},
		{"payload", "dev", deviceKey, []prov.Option{prov.WithProvisioningPayload([]byte("[1,"))}, "payload"},
		{"payload value", "dev", deviceKey, []prov.Option{prov.WithProvisioningPayloadValue(func() {})}, "payload"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			client, err := prov.NewSymmetricKeyClient("localhost:1", c.regID, idScope, c.key, c.options...)
			if client != nil || !errors.Is(err, prov.ErrInvalidArgument) {
				t.Fatalf("client %v, error %v; want ErrInvalidArgument", client, err)
			}
			if !strings.Contains(strings.ToLower(err.Error()), c.want) {
				t.Fatalf("error %q does not mention %q", err, c.want)
			}
		})
	}
	if _, err := prov.DeriveDeviceKey("***", "dev"); !errors.Is(err, prov.ErrInvalidArgument) {
		t.Fatalf("DeriveDeviceKey: %v", err)
	}
}

func TestCloseIsIdempotentAndUseAfterCloseFails(t *testing.T) {
	client := newClient(t, "go-dev-1")
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := client.Register(context.Background())
	if !errors.Is(err, prov.ErrClosed) || !errors.Is(err, prov.ErrInvalidArgument) {
		t.Fatalf("error %v; want ErrClosed", err)
	}
	if err := client.SetProvisioningPayload([]byte(`{}`)); !errors.Is(err, prov.ErrClosed) {
		t.Fatalf("error %v; want ErrClosed", err)
	}
}

func TestBusyWhileRegistrationInFlight(t *testing.T) {
	client := newClient(t, "go-silent", prov.WithRegisterTimeout(3*time.Second))
	firstDone := make(chan error, 1)
	go func() {
		_, err := client.Register(context.Background())
		firstDone <- err
	}()
	time.Sleep(500 * time.Millisecond) // the first registration is waiting on the silent service
	if _, err := client.Register(context.Background()); !errors.Is(err, prov.ErrBusy) {
		t.Fatalf("second Register: %v; want ErrBusy", err)
	}
	if err := client.Close(); !errors.Is(err, prov.ErrBusy) {
		t.Fatalf("Close during Register: %v; want ErrBusy", err)
	}
	if err := <-firstDone; !errors.Is(err, prov.ErrTimeout) {
		t.Fatalf("first Register: %v; want ErrTimeout", err)
	}
	if err := client.Close(); err != nil {
		t.Fatalf("Close afterwards: %v", err)
	}
}

// Errors are recorded per OS thread in C; goroutines hop between threads.
// Many goroutines mixing failures and successes must each see their own.
func TestConcurrentClientsSeeTheirOwnOutcome(t *testing.T) {
	var wait sync.WaitGroup
	failures := make(chan string, 16)
	for worker := 0; worker < 16; worker++ {
		wait.Add(1)
		go func(worker int) {
			defer wait.Done()
			key := deviceKey
			if worker%2 == 1 {
				key = wrongKey
			}
			client, err := prov.NewSymmetricKeyClient(emu.mqttHost, "go-dev-1", idScope, key,
				prov.WithServerVerificationCert(emu.caPEM))
			if err != nil {
				failures <- err.Error()
				return
			}
			defer client.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			result, err := client.Register(ctx)
			switch {
			case worker%2 == 0 && (err != nil || result.DeviceID != "go-device-one"):
				failures <- fmt.Sprintf("worker %d: %v", worker, err)
			case worker%2 == 1 && !errors.Is(err, prov.ErrCredential):
				failures <- fmt.Sprintf("worker %d: %v; want ErrCredential", worker, err)
			}
		}(worker)
	}
	wait.Wait()
	close(failures)
	for failure := range failures {
		t.Error(failure)
	}
}

func TestKnownAnswerVectors(t *testing.T) {
	content, err := os.ReadFile(os.Getenv("PROV_TEST_VECTORS"))
	if err != nil {
		t.Fatalf("PROV_TEST_VECTORS must name sas.json: %v", err)
	}
	var vectors struct {
		SAS []struct {
			IDScope        string `json:"id_scope"`
			RegistrationID string `json:"registration_id"`
			DeviceKey      string `json:"device_key"`
			Expiry         int64  `json:"expiry"`
			Token          string `json:"token"`
		} `json:"sas"`
		DerivedKeys []struct {
			GroupKey       string `json:"group_key"`
			RegistrationID string `json:"registration_id"`
			DeviceKey      string `json:"device_key"`
		} `json:"derived_keys"`
	}
	if err := json.Unmarshal(content, &vectors); err != nil {
		t.Fatal(err)
	}
	if len(vectors.SAS) == 0 || len(vectors.DerivedKeys) == 0 {
		t.Fatal("no vectors")
	}
	for _, v := range vectors.DerivedKeys {
		if key, err := prov.DeriveDeviceKey(v.GroupKey, v.RegistrationID); err != nil || key != v.DeviceKey {
			t.Errorf("DeriveDeviceKey(%s) = %q, %v; want %q", v.RegistrationID, key, err, v.DeviceKey)
		}
	}
	for _, v := range vectors.SAS {
		token, err := prov.GenerateSASToken(v.IDScope, v.RegistrationID, v.DeviceKey, time.Unix(v.Expiry, 0))
		if err != nil || token != v.Token {
			t.Errorf("GenerateSASToken(%s) = %q, %v; want %q", v.RegistrationID, token, err, v.Token)
		}
	}
}

func rssKiB(t *testing.T) int {
	t.Helper()
	status, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer status.Close()
	scanner := bufio.NewScanner(status)
	for scanner.Scan() {
		if fields := strings.Fields(scanner.Text()); len(fields) >= 2 && fields[0] == "VmRSS:" {
			kib, _ := strconv.Atoi(fields[1])
			return kib
		}
	}
	t.Fatal("no VmRSS in /proc/self/status")
	return 0
}

// A leak of 200 bytes per cycle would exceed this over 10,000 cycles.
const maxGrowthKiB = 2048

func stressClient(t *testing.T) *prov.Client {
	client, err := prov.NewSymmetricKeyClient("localhost:8883", "go-stress", idScope, deviceKey,
		prov.WithKeepAlive(30*time.Second), prov.WithProvisioningPayload([]byte(`{"n":1}`)),
		prov.WithCipher("ECDHE-RSA-AES128-GCM-SHA256"))
	if err != nil {
		t.Fatal(err)
	}
	return client
}

// rssGrowthKiB measures RSS over 10,000 cycles after as many for warm-up:
// clients left to the collector are all alive until a GC runs (Go does not
// see their C memory), and glibc keeps that high-water mark after freeing.
// A leak grows RSS again in the second round; a high-water mark does not.
// The goroutine stays on one OS thread: glibc gives each thread its own
// malloc arena, and a goroutine wandering over threads would raise the
// high-water mark of several arenas (measured: RSS then grows in steps of
// ~2.5 MB per round for a while, with or without a leak).
func rssGrowthKiB(t *testing.T, cycle func()) int {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for i := 0; i < 10000; i++ {
		cycle()
	}
	settle()
	before := rssKiB(t)
	for i := 0; i < 10000; i++ {
		cycle()
	}
	settle()
	return rssKiB(t) - before
}

// settle runs the collector until finalizers have run, then returns the
// Go heap's free pages to the OS, so that RSS shows what is still alive.
func settle() {
	for i := 0; i < 5; i++ {
		runtime.GC()
		time.Sleep(20 * time.Millisecond) // the finalizer goroutine runs meanwhile
	}
	debug.FreeOSMemory()
}

func TestStressCreateClose(t *testing.T) {
	growth := rssGrowthKiB(t, func() {
		if err := stressClient(t).Close(); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("RSS growth over 10,000 create/Close cycles: %d KiB", growth)
	if growth > maxGrowthKiB {
		t.Fatalf("RSS grew by %d KiB", growth)
	}
}

func TestStressClientsLeftToFinalizers(t *testing.T) {
	growth := rssGrowthKiB(t, func() { _ = stressClient(t) })
	t.Logf("RSS growth over 10,000 clients left to the garbage collector: %d KiB", growth)
	if growth > maxGrowthKiB {
		t.Fatalf("RSS grew by %d KiB", growth)
	}
}

func TestExampleProgram(t *testing.T) {
	command := exec.Command("go", "run", "../examples/register")
	command.Env = append(os.Environ(),
		"PROVISIONING_HOST="+emu.mqttHost, "PROVISIONING_IDSCOPE="+idScope,
		"PROVISIONING_REGISTRATION_ID=go-dev-1", "PROVISIONING_SYMMETRIC_KEY="+deviceKey,
		"PROVISIONING_SERVER_CERT="+emu.caPath)
	var output bytes.Buffer
	command.Stdout, command.Stderr = &output, &output
	if err := command.Run(); err != nil {
		t.Fatalf("example: %v\n%s", err, output.String())
	}
	text := output.String()
	if !strings.Contains(text, "device id: go-device-one") ||
		!(strings.Contains(text, "assigned hub: hub-1.example.net") || strings.Contains(text, "assigned hub: hub-2.example.net")) {
		t.Fatalf("example printed:\n%s", text)
	}
}
