package prov_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// emulator is a real dps-emulator process (PROV_TEST_EMULATOR) with a fresh
// data directory and ports chosen by the kernel (shared test contract).
type emulator struct {
	dir       string
	process   *exec.Cmd
	mqttHost  string
	httpsHost string
	caPEM     string
	caPath    string
	logPath   string
	exited    chan struct{} // closed when the process has been reaped
}

const (
	idScope   = "0ne00000A0A"
	deviceKey = "Z28tZGV2aWNlLWtleS0tLS0tLS0tLS0tLS0tLS0tLS0="
	groupKey  = "Z28tZ3JvdXAta2V5LS0tLS0tLS0tLS0tLS0tLS0tLS0="
	wrongKey  = "bm90LXRoZS1rZXktLS0tLS0tLS0tLS0tLS0tLS0tLS0="
)

var hubs = []string{"hub-1.example.net", "hub-2.example.net"}

// x509Credentials are test certificates made by `dps-emulator make-cert`: a
// root CA (enrolled as an X.509 group) and a device certificate it signed.
type x509Credentials struct {
	dir                   string
	caCert, caKey         string
	deviceCert, deviceKey string
	registrationID        string
}

func makeX509Credentials() (*x509Credentials, error) {
	binary := os.Getenv("PROV_TEST_EMULATOR")
	dir, err := os.MkdirTemp("", "prov-go-x509-")
	if err != nil {
		return nil, err
	}
	c := &x509Credentials{dir: dir, registrationID: "go-x509-device",
		caCert: filepath.Join(dir, "ca.pem"), caKey: filepath.Join(dir, "ca.key"),
		deviceCert: filepath.Join(dir, "device.pem"), deviceKey: filepath.Join(dir, "device.key")}
	commands := [][]string{
		{"make-cert", "ca", "--cn", "go-test-root", "--out-cert", c.caCert, "--out-key", c.caKey},
		{"make-cert", "device", "--cn", c.registrationID, "--issuer-cert", c.caCert, "--issuer-key", c.caKey,
			"--out-cert", c.deviceCert, "--out-key", c.deviceKey},
	}
	for _, arguments := range commands {
		if output, err := exec.Command(binary, arguments...).CombinedOutput(); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("dps-emulator %v: %v\n%s", arguments, err, output)
		}
	}
	return c, nil
}

func emulatorConfig(credentials *x509Credentials) string {
	return fmt.Sprintf(`{
  "idScope": %q,
  "iotHubs": ["hub-1.example.net", "hub-2.example.net"],
  "enrollments": [
    {"registrationId": "go-dev-1", "deviceId": "go-device-one",
     "attestation": {"type": "symmetricKey", "primaryKey": %q}},
    {"registrationId": "go-echo", "echoPayload": true,
     "attestation": {"type": "symmetricKey", "primaryKey": %q}},
    {"registrationId": "go-silent",
     "attestation": {"type": "symmetricKey", "primaryKey": %q}}
  ],
  "enrollmentGroups": [
    {"enrollmentGroupId": "go-group",
     "attestation": {"type": "symmetricKey", "primaryKey": %q}},
    {"enrollmentGroupId": "go-x509-group",
     "attestation": {"type": "x509", "caCertificates": [%q]}}
  ],
  "faults": [{"type": "silent", "registrationId": "go-silent"}]
}`, idScope, deviceKey, deviceKey, deviceKey, groupKey, credentials.caCert)
}

func startEmulator(config string) (*emulator, error) {
	binary := os.Getenv("PROV_TEST_EMULATOR")
	if binary == "" {
		return nil, fmt.Errorf("PROV_TEST_EMULATOR must name the dps-emulator binary")
	}
	dir, err := os.MkdirTemp("", "prov-go-emu-")
	if err != nil {
		return nil, err
	}
	e := &emulator{dir: dir, logPath: filepath.Join(dir, "emulator.log")}
	configPath := filepath.Join(dir, "config.json")
	portsPath := filepath.Join(dir, "ports.json")
	dataDir := filepath.Join(dir, "data")
	if err := os.WriteFile(configPath, []byte(config), 0o600); err != nil {
		return nil, err
	}
	logFile, err := os.Create(e.logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	e.process = exec.Command(binary, "serve", "--data-dir", dataDir, "--config", configPath,
		"--bind", "127.0.0.1", "--mqtt-port", "0", "--https-port", "0", "--admin-port", "0",
		"--ports-file", portsPath)
	e.process.Stdout, e.process.Stderr = logFile, logFile
	// The emulator dies with the test binary, even when ctest kills it.
	e.process.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := e.process.Start(); err != nil {
		e.stop()
		return nil, err
	}
	e.exited = make(chan struct{})
	go func() { _ = e.process.Wait(); close(e.exited) }()
	var ports struct {
		MQTT  int `json:"mqtt"`
		HTTPS int `json:"https"`
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if content, err := os.ReadFile(portsPath); err == nil && json.Unmarshal(content, &ports) == nil {
			break
		}
		select {
		case <-e.exited:
			log, _ := os.ReadFile(e.logPath)
			e.stop()
			return nil, fmt.Errorf("dps-emulator exited; log:\n%s", log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			e.stop()
			return nil, fmt.Errorf("dps-emulator wrote no ports file in 30 s")
		}
	}
	e.mqttHost = fmt.Sprintf("localhost:%d", ports.MQTT)
	e.httpsHost = fmt.Sprintf("localhost:%d", ports.HTTPS)
	caPath, err := exec.Command(binary, "ca-path", "--data-dir", dataDir).Output()
	if err != nil {
		e.stop()
		return nil, fmt.Errorf("dps-emulator ca-path: %w", err)
	}
	e.caPath = strings.TrimSpace(string(caPath))
	pem, err := os.ReadFile(e.caPath)
	if err != nil {
		e.stop()
		return nil, err
	}
	e.caPEM = string(pem)
	return e, nil
}

func (e *emulator) stop() {
	if e.exited != nil {
		_ = e.process.Process.Signal(syscall.SIGTERM)
		select {
		case <-e.exited:
		case <-time.After(10 * time.Second):
			_ = e.process.Process.Kill()
			<-e.exited
		}
	}
	_ = os.RemoveAll(e.dir)
}
