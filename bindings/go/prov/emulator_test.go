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
	dir      string
	process  *exec.Cmd
	mqttHost string
	caPEM    string
	caPath   string
	logPath  string
	exited   chan struct{} // closed when the process has been reaped
}

const (
	idScope   = "0ne00000A0A"
	deviceKey = "Z28tZGV2aWNlLWtleS0tLS0tLS0tLS0tLS0tLS0tLS0="
	groupKey  = "Z28tZ3JvdXAta2V5LS0tLS0tLS0tLS0tLS0tLS0tLS0="
	wrongKey  = "bm90LXRoZS1rZXktLS0tLS0tLS0tLS0tLS0tLS0tLS0="
)

var hubs = []string{"hub-1.example.net", "hub-2.example.net"}

var emulatorConfig = fmt.Sprintf(`{
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
     "attestation": {"type": "symmetricKey", "primaryKey": %q}}
  ],
  "faults": [{"type": "silent", "registrationId": "go-silent"}]
}`, idScope, deviceKey, deviceKey, deviceKey, groupKey)

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
		MQTT int `json:"mqtt"`
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
