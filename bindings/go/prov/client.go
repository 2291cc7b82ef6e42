package prov

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"runtime"
	"runtime/cgo"
	"sync"
	"time"

	"github.com/libprov/libprov/bindings/go/internal/native"
)

// callNative runs one call into the SWIG layer and returns the failure it
// recorded. The pending error is thread-local in C, so the goroutine stays
// on one OS thread from the call until the error has been read.
func callNative(op string, call func()) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	call()
	return pendingError(op)
}

// defaultRegisterTimeout is prov.h's default for prov_client_set_register_timeout.
const defaultRegisterTimeout = 90 * time.Second

// settings collects the options before they are applied to the native client.
type settings struct {
	setters         []setter
	registerTimeout time.Duration
	progress        func(Progress)
	log             func(LogLevel, string)
	problem         error // the first invalid option, reported by NewSymmetricKeyClient
}

// setter applies one option to the native client; op names it in errors.
type setter struct {
	op    string
	apply func(native.ProvClient)
}

func (s *settings) add(op string, apply func(native.ProvClient)) {
	s.setters = append(s.setters, setter{op: op, apply: apply})
}

// Option configures a Client (see prov.h for each value's range and default).
type Option func(*settings)

func (s *settings) fail(err error) {
	if s.problem == nil {
		s.problem = err
	}
}

// WithServerVerificationCert trusts these root certificates (PEM text, not a
// path) for the server instead of the system trust store.
func WithServerVerificationCert(pem string) Option {
	return func(s *settings) {
		s.add("set server verification cert", func(c native.ProvClient) { c.Set_server_verification_cert(pem) })
	}
}

// WithGatewayHostname connects to this host (optionally host:port) instead
// of the provisioning host.
func WithGatewayHostname(hostname string) Option {
	return func(s *settings) {
		s.add("set gateway hostname", func(c native.ProvClient) { c.Set_gateway_hostname(hostname) })
	}
}

// WithCipher sets the OpenSSL cipher list for TLS 1.2.
func WithCipher(cipherList string) Option {
	return func(s *settings) {
		s.add("set cipher", func(c native.ProvClient) { c.Set_cipher(cipherList) })
	}
}

// wholeSeconds converts d for a setter taking seconds, rejecting fractions.
func wholeSeconds(s *settings, name string, d time.Duration) (int, bool) {
	if d%time.Second != 0 {
		s.fail(invalidArgument("create client", fmt.Sprintf("%s must be whole seconds, got %v", name, d)))
		return 0, false
	}
	seconds := int64(d / time.Second)
	if seconds > math.MaxInt32 || seconds < math.MinInt32 {
		seconds = math.MaxInt32 // out of range either way; libprov names the limits
	}
	return int(seconds), true
}

// milliseconds converts d for a setter taking milliseconds, rounding up so
// that a positive duration never becomes 0.
func milliseconds(d time.Duration) uint {
	if d <= 0 {
		return 0 // rejected by libprov with a message naming the range
	}
	ms := (d + time.Millisecond - 1) / time.Millisecond
	if ms > math.MaxUint32 {
		ms = math.MaxUint32
	}
	return uint(ms)
}

// WithKeepAlive sets the MQTT keep-alive (whole seconds, 1 s..1740 s).
func WithKeepAlive(d time.Duration) Option {
	return func(s *settings) {
		if seconds, ok := wholeSeconds(s, "keep-alive", d); ok {
			s.add("set keep-alive", func(c native.ProvClient) { c.Set_keep_alive(seconds) })
		}
	}
}

// WithSASTokenTTL sets the lifetime of the SAS tokens the client creates
// (whole seconds, 60 s..365 days).
func WithSASTokenTTL(d time.Duration) Option {
	return func(s *settings) {
		if seconds, ok := wholeSeconds(s, "SAS token TTL", d); ok {
			s.add("set SAS token TTL", func(c native.ProvClient) { c.Set_sastoken_ttl(seconds) })
		}
	}
}

// WithProvisioningPayload sends this JSON text with the registration
// request. Empty means none.
func WithProvisioningPayload(jsonText []byte) Option {
	text := string(jsonText)
	return func(s *settings) {
		s.add("set provisioning payload", func(c native.ProvClient) { c.Set_provisioning_payload(text) })
	}
}

// WithProvisioningPayloadValue sends value, encoded with encoding/json, with
// the registration request.
func WithProvisioningPayloadValue(value any) Option {
	return func(s *settings) {
		encoded, err := json.Marshal(value)
		if err != nil {
			s.fail(invalidArgument("create client", "provisioning payload: "+err.Error()))
			return
		}
		WithProvisioningPayload(encoded)(s)
	}
}

// WithRegisterTimeout bounds each Register call (default 90 s); a context
// deadline that comes sooner wins.
func WithRegisterTimeout(d time.Duration) Option {
	return func(s *settings) {
		ms := milliseconds(d)
		s.add("set register timeout", func(c native.ProvClient) { c.Set_register_timeout(ms) })
		s.registerTimeout = d
	}
}

// WithResponseTimeout bounds each single network step (default 30 s).
func WithResponseTimeout(d time.Duration) Option {
	return func(s *settings) {
		ms := milliseconds(d)
		s.add("set response timeout", func(c native.ProvClient) { c.Set_response_timeout(ms) })
	}
}

// WithRetryPolicy sets how transient failures (429, 5xx, dropped or
// refused connections, missing responses) are retried: up to maxRetries
// consecutive retries, waiting the service's retry-after or an exponential
// backoff with full jitter from initialBackoff up to maxBackoff (defaults:
// 10 retries, 1 s, 30 s). Every retry stays inside the register timeout.
func WithRetryPolicy(maxRetries int, initialBackoff, maxBackoff time.Duration) Option {
	return func(s *settings) {
		if maxRetries < 0 || maxRetries > math.MaxUint32 {
			s.fail(invalidArgument("create client", fmt.Sprintf("max retries must be 0..%d, got %d", uint32(math.MaxUint32), maxRetries)))
			return
		}
		initial, maximum := milliseconds(initialBackoff), milliseconds(maxBackoff)
		s.add("set retry policy", func(c native.ProvClient) { c.Set_retry_policy(uint(maxRetries), initial, maximum) })
	}
}

// Transport is how the client talks to the service.
type Transport int

// Transports (prov_transport in prov.h).
const (
	// TransportMQTT is MQTT 3.1.1 over TLS, default port 8883 (the default).
	TransportMQTT Transport = 0
	// TransportMQTTWebSockets is MQTT over WebSockets over TLS, default
	// port 443 (the Python SDK's websockets=True).
	TransportMQTTWebSockets Transport = 1
	// TransportHTTPS is the DPS HTTPS REST API, default port 443.
	TransportHTTPS Transport = 2
)

// WithTransport chooses the transport (default TransportMQTT).
func WithTransport(transport Transport) Option {
	return func(s *settings) {
		s.add("set transport", func(c native.ProvClient) { c.Set_transport(int(transport)) })
	}
}

// ProxyType is a kind of proxy (prov_proxy_type in prov.h).
type ProxyType int

// Proxy kinds.
const (
	ProxyNone    ProxyType = 0
	ProxyHTTP    ProxyType = 1 // HTTP CONNECT
	ProxyHTTPS   ProxyType = 2 // HTTP CONNECT over TLS
	ProxySOCKS4  ProxyType = 3
	ProxySOCKS4A ProxyType = 4
	ProxySOCKS5  ProxyType = 5
	ProxySOCKS5H ProxyType = 6 // SOCKS5, names resolved by the proxy
)

// WithProxy sends every connection through a proxy, as the Python SDK's
// ProxyOptions; username and password may be "" (none).
func WithProxy(proxyType ProxyType, address string, port int, username, password string) Option {
	return func(s *settings) {
		if port < 0 || port > 65535 {
			port = 0 // rejected by libprov with a message naming the range
		}
		s.add("set proxy", func(c native.ProvClient) {
			c.Set_proxy(int(proxyType), address, port, username, password)
		})
	}
}

// WithProxyURL sets the proxy from "scheme://[user[:password]@]host[:port]"
// (http, https, socks4, socks4a, socks5, socks5h).
func WithProxyURL(url string) Option {
	return func(s *settings) {
		s.add("set proxy URL", func(c native.ProvClient) { c.Set_proxy_url(url) })
	}
}

// WithProxyCACert trusts these roots (PEM text) for an HTTPS proxy's own
// certificate.
func WithProxyCACert(pem string) Option {
	return func(s *settings) {
		s.add("set proxy CA cert", func(c native.ProvClient) { c.Set_proxy_ca_cert(pem) })
	}
}

// KeyType is the key pair generated for a CSR.
type KeyType int

// Key types for WithCSR.
const (
	KeyNone    KeyType = 0 // no CSR
	KeyECP256  KeyType = 1 // ECDSA P-256
	KeyRSA2048 KeyType = 2
)

// WithCSR asks the service to issue a certificate: each registration sends
// a CSR for a fresh key pair of this type; the result carries the issued
// chain and the generated private key.
func WithCSR(keyType KeyType) Option {
	return func(s *settings) {
		s.add("set CSR", func(c native.ProvClient) { c.Set_csr_auto(int(keyType)) })
	}
}

// WithCSRPEM sends a CSR the caller made (PEM text); its subject CN must be
// the registration id.
func WithCSRPEM(csrPEM string) Option {
	return func(s *settings) {
		s.add("set CSR PEM", func(c native.ProvClient) { c.Set_csr_pem(csrPEM) })
	}
}

// WithCSRDER sends a CSR the caller made as DER bytes; its subject CN must
// be the registration id. Empty clears the CSR.
func WithCSRDER(der []byte) Option {
	text := string(der) // bytes, carried in a Go string across cgo
	return func(s *settings) {
		s.add("set CSR DER", func(c native.ProvClient) { c.Set_csr_der(text) })
	}
}

// ProgressState is a state a registration goes through (prov_progress_state).
type ProgressState int

// Progress states, in the order a registration usually reports them.
const (
	ProgressConnecting  ProgressState = 1 // opening the connection; Detail: "host:port" and the transport
	ProgressConnected   ProgressState = 2 // connected and authenticated
	ProgressRegistering ProgressState = 3 // request sent; Detail: "register" or the operation id
	ProgressAssigning   ProgressState = 4 // the service is assigning; RetryAfter: the wait before polling
	ProgressRetrying    ProgressState = 5 // a transient failure is retried; Detail: the reason
	ProgressAssigned    ProgressState = 6 // assigned; Detail: the hub
	ProgressFailed      ProgressState = 7 // ended without assignment; Detail: "PROV_E_...: message"
)

var progressStateNames = map[ProgressState]string{
	ProgressConnecting: "connecting", ProgressConnected: "connected",
	ProgressRegistering: "registering", ProgressAssigning: "assigning",
	ProgressRetrying: "retrying", ProgressAssigned: "assigned", ProgressFailed: "failed",
}

// String names the state ("connecting", "assigning", ...).
func (s ProgressState) String() string {
	if name, ok := progressStateNames[s]; ok {
		return name
	}
	return fmt.Sprintf("ProgressState(%d)", int(s))
}

// Progress is one step of a registration. Detail never holds a secret.
type Progress struct {
	State      ProgressState
	Detail     string
	RetryAfter time.Duration // for ProgressAssigning and ProgressRetrying, else 0
}

// WithProgress calls handler with each step of every registration, in
// order, on the goroutine that called Register (libprov's thread only queues
// the events, so a slow handler delays nothing but that Register).
func WithProgress(handler func(Progress)) Option {
	return func(s *settings) { s.progress = handler }
}

// LogLevel is the level of a libprov log line (prov_log_level).
type LogLevel int

// Log levels.
const (
	LogDebug   LogLevel = 0
	LogInfo    LogLevel = 1
	LogWarning LogLevel = 2
	LogError   LogLevel = 3
)

var logLevelNames = map[LogLevel]string{LogDebug: "debug", LogInfo: "info", LogWarning: "warning", LogError: "error"}

// String names the level ("debug", "info", "warning", "error").
func (l LogLevel) String() string {
	if name, ok := logLevelNames[l]; ok {
		return name
	}
	return fmt.Sprintf("LogLevel(%d)", int(l))
}

// WithLog calls handler with libprov's log lines of level minLevel and
// above, in order, on the goroutine that called Register (as WithProgress).
// Lines never contain a secret (keys, SAS tokens, passwords are redacted).
func WithLog(minLevel LogLevel, handler func(LogLevel, string)) Option {
	return func(s *settings) {
		s.log = handler
		s.add("set log level", func(c native.ProvClient) { c.Set_async_log_level(int(minLevel)) })
	}
}

// CSRAPI is the shape of the certificate issuance request.
type CSRAPI int

// Certificate issuance request shapes.
const (
	CSRAPI2025_07_01Preview CSRAPI = 1 // "csr" -> "issuedCertificateChain" (the default)
	CSRAPI2021_11_01Preview CSRAPI = 2 // "clientCertificateCsr" -> "issuedClientCertificate" + "trustBundle"
)

// WithCSRAPI chooses the issuance request shape.
func WithCSRAPI(api CSRAPI) Option {
	return func(s *settings) {
		s.add("set CSR API", func(c native.ProvClient) { c.Set_csr_api(int(api)) })
	}
}

// Client registers one device identity. Create it with NewSymmetricKeyClient
// and release it with Close.
type Client struct {
	mu              sync.Mutex
	handle          native.ProvClient // nil once closed
	inFlight        bool
	registerTimeout time.Duration
	onProgress      func(Progress)
	onLog           func(LogLevel, string)
}

// NewSymmetricKeyClient creates a client that registers registrationID in
// the DPS instance idScope with a symmetric key (an individual enrollment's
// key, or a device key from DeriveDeviceKey for a group). provisioningHost
// may carry a port ("localhost:8883"). Nothing is sent until Register.
func NewSymmetricKeyClient(provisioningHost, registrationID, idScope, symmetricKey string,
	options ...Option) (*Client, error) {
	return newClient(func() native.ProvClient {
		return native.NewProvClient(provisioningHost, registrationID, idScope, symmetricKey)
	}, options)
}

// NewSymmetricKeyGroupClient creates a client for a device of a
// symmetric-key group enrollment: the device key is derived from groupKey
// and registrationID (as DeriveDeviceKey); the group key is not kept.
func NewSymmetricKeyGroupClient(provisioningHost, registrationID, idScope, groupKey string,
	options ...Option) (*Client, error) {
	return newClient(func() native.ProvClient {
		return native.Create_symkey_group_client(provisioningHost, registrationID, idScope, groupKey)
	}, options)
}

// NewX509Client creates a client that registers with an X.509 certificate
// (TLS client authentication), as the Python SDK's
// create_from_x509_certificate with X509(cert_file, key_file, pass_phrase).
// certFile holds the device certificate, optionally followed by its
// intermediate CAs; keyFile the private key; passPhrase is "" for a key
// that is not encrypted. Both files are read and checked now: problems are
// ErrCertificate errors naming the file and the problem.
func NewX509Client(provisioningHost, registrationID, idScope, certFile, keyFile, passPhrase string,
	options ...Option) (*Client, error) {
	return newClient(func() native.ProvClient {
		return native.Create_x509_client(provisioningHost, registrationID, idScope, certFile, keyFile, passPhrase)
	}, options)
}

// NewX509ClientFromPEM is NewX509Client with the certificate chain and the
// key as PEM text in memory.
func NewX509ClientFromPEM(provisioningHost, registrationID, idScope, certPEM, keyPEM, passPhrase string,
	options ...Option) (*Client, error) {
	return newClient(func() native.ProvClient {
		return native.Create_x509_pem_client(provisioningHost, registrationID, idScope, certPEM, keyPEM, passPhrase)
	}, options)
}

// newClient runs a native constructor, then applies the options.
func newClient(create func() native.ProvClient, options []Option) (*Client, error) {
	config := settings{registerTimeout: defaultRegisterTimeout}
	for _, option := range options {
		option(&config)
	}
	if config.problem != nil {
		return nil, config.problem
	}
	var handle native.ProvClient
	err := callNative("create client", func() { handle = create() })
	if err != nil {
		return nil, err
	}
	for _, set := range config.setters {
		if err := callNative(set.op, func() { set.apply(handle) }); err != nil {
			native.DeleteProvClient(handle)
			return nil, err
		}
	}
	client := &Client{handle: handle, registerTimeout: config.registerTimeout,
		onProgress: config.progress, onLog: config.log}
	runtime.SetFinalizer(client, (*Client).release)
	return client, nil
}

// release frees the native client; the finalizer's safety net.
func (c *Client) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.handle != nil {
		native.DeleteProvClient(c.handle)
		c.handle = nil
	}
}

// Close frees the native client and wipes its key. Idempotent. It fails with
// ErrBusy while a Register on this client is in flight.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inFlight {
		return &Error{Op: "close", Status: StatusBusy,
			Message: "cannot close the client: a registration is in flight"}
	}
	if c.handle != nil {
		native.DeleteProvClient(c.handle)
		c.handle = nil
		runtime.SetFinalizer(c, nil)
	}
	return nil
}

// SetProvisioningPayload replaces the JSON payload sent with the next
// registration; nil or empty clears it.
func (c *Client) SetProvisioningPayload(jsonText []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.handle == nil {
		return closedError("set provisioning payload")
	}
	if c.inFlight {
		return &Error{Op: "set provisioning payload", Status: StatusBusy,
			Message: "a registration is in flight"}
	}
	text := string(jsonText)
	return callNative("set provisioning payload", func() { c.handle.Set_provisioning_payload(text) })
}

// Register connects, registers the device, polls until the service reaches
// a terminal status and returns the assignment. It blocks until then, the
// register timeout, or ctx's deadline, whichever comes first (see the
// package documentation about cancellation). Failures are *Error values.
func (c *Client) Register(ctx context.Context) (*Result, error) {
	if ctx.Err() != nil {
		return nil, contextError(ctx)
	}
	c.mu.Lock()
	if c.handle == nil {
		c.mu.Unlock()
		return nil, closedError("register")
	}
	if c.inFlight {
		c.mu.Unlock()
		return nil, &Error{Op: "register", Status: StatusBusy,
			Message: "another registration on this client is in flight"}
	}
	c.inFlight = true
	handle := c.handle
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.inFlight = false
		c.mu.Unlock()
		runtime.KeepAlive(c)
	}()

	timeout := c.registerTimeout
	limitedByContext := false
	if deadline, ok := ctx.Deadline(); ok {
		remaining := time.Until(deadline)
		if remaining <= 0 {
			return nil, contextError(ctx)
		}
		if remaining < timeout {
			timeout, limitedByContext = remaining, true
		}
	}
	if err := callNative("register", func() { handle.Set_register_timeout(milliseconds(timeout)) }); err != nil {
		return nil, err
	}

	var raw native.ProvResult
	cancelledByContext, err := c.registerAsync(ctx, handle, &raw)
	if err != nil {
		var failure *Error
		if asError(err, &failure) {
			switch {
			case limitedByContext && failure.Status == StatusTimeout:
				failure.context = context.DeadlineExceeded
			case cancelledByContext && failure.Status == StatusCancelled:
				failure.context = context.Canceled
			}
		}
		return nil, err
	}
	defer native.DeleteProvResult(raw)
	return resultFrom(raw), nil
}

// asyncRegistration is one prov_client_register_async in flight: the
// binding's dispatcher thread (prov.i) appends progress and hands over the
// completion here without blocking; the goroutine in Register drains both.
type asyncRegistration struct {
	wantProgress bool
	wantLog      bool
	mu           sync.Mutex
	events       []func(*Client) // guarded by mu: progress and log deliveries, in order
	notify       chan struct{}
	done         chan native.ProvCompletion
}

// queue appends one delivery and wakes the Register goroutine.
func (r *asyncRegistration) queue(deliver func(*Client)) {
	r.mu.Lock()
	r.events = append(r.events, deliver)
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default: // a wake-up is already pending
	}
}

func init() {
	native.AsyncProgress = func(context int64, state int, detail string, retryAfterMs uint32) {
		registration := cgo.Handle(context).Value().(*asyncRegistration)
		if registration.wantProgress {
			step := Progress{State: ProgressState(state), Detail: detail,
				RetryAfter: time.Duration(retryAfterMs) * time.Millisecond}
			registration.queue(func(c *Client) { c.onProgress(step) })
		}
	}
	native.AsyncLog = func(context int64, level int, message string) {
		registration := cgo.Handle(context).Value().(*asyncRegistration)
		if registration.wantLog {
			registration.queue(func(c *Client) { c.onLog(LogLevel(level), message) })
		}
	}
	native.AsyncCompletion = func(context int64, completion native.ProvCompletion) {
		token := cgo.Handle(context)
		registration := token.Value().(*asyncRegistration)
		token.Delete()
		registration.done <- completion // buffered: never blocks
	}
}

// deliver runs the progress and log deliveries received so far, in order.
func (r *asyncRegistration) deliver(c *Client) {
	r.mu.Lock()
	pending := r.events
	r.events = nil
	r.mu.Unlock()
	for _, event := range pending {
		event(c)
	}
}

// registerAsync runs one registration with prov_client_register_async
// (libprov's event loop; no goroutine or OS thread of ours waits in C), runs
// the progress and log handlers on this goroutine as events arrive, and
// cancels the registration when ctx is cancelled (a deadline is left to the
// register timeout, which was set to it). It reports whether the context
// cancelled it; *raw is the result on success.
func (c *Client) registerAsync(ctx context.Context, handle native.ProvClient,
	raw *native.ProvResult) (cancelledByContext bool, err error) {
	registration := &asyncRegistration{
		wantProgress: c.onProgress != nil,
		wantLog:      c.onLog != nil,
		notify:       make(chan struct{}, 1),
		done:         make(chan native.ProvCompletion, 1),
	}
	token := cgo.NewHandle(registration)
	if err := callNative("register", func() { handle.Register_async(int64(token)) }); err != nil {
		token.Delete() // nothing will be delivered
		return false, err
	}
	// From here the registration is in flight until its completion arrives,
	// so a single cancel is enough (libprov forgets a cancel only when
	// nothing is in flight).
	var completion native.ProvCompletion
	cancelled := ctx.Done()
	for completion == nil {
		select {
		case <-registration.notify:
			registration.deliver(c)
		case completion = <-registration.done:
		case <-cancelled:
			cancelled = nil
			if errors.Is(ctx.Err(), context.Canceled) {
				cancelledByContext = true
				_ = callNative("cancel", func() { handle.Cancel() })
			}
		}
	}
	defer native.DeleteProvCompletion(completion)
	registration.deliver(c)
	err = callNative("register", func() { *raw = completion.Take_result() })
	return cancelledByContext, err
}

func asError(err error, target **Error) bool {
	failure, ok := err.(*Error)
	if ok {
		*target = failure
	}
	return ok
}

// Result is a device's assignment, copied out of libprov (it holds nothing
// native). Fields the service did not send are empty.
type Result struct {
	OperationID        string
	Status             string // "assigned"
	RegistrationID     string
	DeviceID           string
	AssignedHub        string
	Substatus          string // e.g. "initialAssignment"
	CreatedDateTime    string // ISO-8601, as the service sent it
	LastUpdateDateTime string
	ETag               string
	// Payload is the data returned to the device (registrationState.payload),
	// nil when there was none.
	Payload json.RawMessage
	// RegistrationState is the whole registrationState object.
	RegistrationState json.RawMessage
	HTTPStatus        int
	// EnrollmentGroupID is the group the device registered through, if any.
	EnrollmentGroupID string
	// X509 is registrationState.x509 (X.509 registrations), else nil.
	X509 json.RawMessage
	// X509CertificateInfo is registrationState.x509.certificateInfo, else nil.
	X509CertificateInfo json.RawMessage
	// IssuedCertificateChainPEM is the certificate chain the service issued
	// for a CSR (leaf first), else "".
	IssuedCertificateChainPEM string
	// IssuedCertificateCount is the number of certificates in that chain.
	IssuedCertificateCount int
	// IssuedCertificatesDER holds the same certificates as DER, leaf first.
	IssuedCertificatesDER [][]byte
	// GeneratedPrivateKeyPEM is the key generated for WithCSR (secret: store
	// it safely), else "".
	GeneratedPrivateKeyPEM string
	// TrustBundlePEM is the trust bundle (2021-11-01-preview issuance), else "".
	TrustBundlePEM string
}

func optionalJSON(text string) json.RawMessage {
	if text == "" {
		return nil
	}
	return json.RawMessage(text)
}

func resultFrom(raw native.ProvResult) *Result {
	result := &Result{
		OperationID:        raw.Operation_id(),
		Status:             raw.Status(),
		RegistrationID:     raw.Registration_id(),
		DeviceID:           raw.Device_id(),
		AssignedHub:        raw.Assigned_hub(),
		Substatus:          raw.Substatus(),
		CreatedDateTime:    raw.Created_date_time(),
		LastUpdateDateTime: raw.Last_update_date_time(),
		ETag:               raw.Etag(),
		Payload:            optionalJSON(raw.Payload()),
		RegistrationState:  optionalJSON(raw.Registration_state_json()),
		HTTPStatus:         raw.Http_status(),

		EnrollmentGroupID:         raw.Enrollment_group_id(),
		X509:                      optionalJSON(raw.X509_json()),
		X509CertificateInfo:       optionalJSON(raw.X509_certificate_info_json()),
		IssuedCertificateChainPEM: raw.Issued_certificate_chain_pem(),
		IssuedCertificateCount:    raw.Issued_certificate_count(),
		GeneratedPrivateKeyPEM:    raw.Generated_private_key_pem(),
		TrustBundlePEM:            raw.Trust_bundle_pem(),
	}
	for index := 0; index < result.IssuedCertificateCount; index++ {
		result.IssuedCertificatesDER = append(result.IssuedCertificatesDER,
			[]byte(raw.Issued_certificate_der(int64(index))))
	}
	return result
}
