package prov

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/libprov/libprov/bindings/go/internal/native"
)

// Status is a libprov status code (prov_status in prov.h). Append-only.
type Status int

// The status codes of prov.h.
const (
	StatusOK                Status = 0
	StatusInvalidArgument   Status = 1
	StatusNoMemory          Status = 2
	StatusCredential        Status = 3
	StatusConnectionFailed  Status = 4
	StatusConnectionDropped Status = 5
	StatusTimeout           Status = 6
	StatusCancelled         Status = 7
	StatusService           Status = 8
	StatusProtocol          Status = 9
	StatusBusy              Status = 10
	StatusInternal          Status = 11
	StatusCertificate       Status = 12
)

// String names the status as prov.h does, e.g. "PROV_E_TIMEOUT".
func (s Status) String() string { return native.Status_name(int(s)) }

// Sentinels for errors.Is. Each *Error matches the one for its Status. The
// comment names the Python SDK exception each corresponds to.
var (
	ErrInvalidArgument   = errors.New("prov: invalid argument")       // ValueError / TypeError
	ErrNoMemory          = errors.New("prov: out of memory")          // MemoryError
	ErrCredential        = errors.New("prov: credential rejected")    // CredentialError
	ErrConnectionFailed  = errors.New("prov: connection failed")      // ConnectionFailedError
	ErrConnectionDropped = errors.New("prov: connection dropped")     // ConnectionDroppedError
	ErrTimeout           = errors.New("prov: operation timed out")    // OperationTimeout
	ErrCancelled         = errors.New("prov: operation cancelled")    // OperationCancelled
	ErrService           = errors.New("prov: service error")          // ClientError
	ErrProtocol          = errors.New("prov: protocol error")         // ClientError
	ErrBusy              = errors.New("prov: registration in flight") // ClientError
	ErrInternal          = errors.New("prov: internal error")         // ClientError
	// ErrCertificate: a local X.509 credential or CSR is unusable (file,
	// pass phrase, key mismatch, chain order, validity, CN).
	ErrCertificate = errors.New("prov: certificate problem")
	// ErrClosed: the client was used after Close. Such errors also match
	// ErrInvalidArgument, as in the other bindings.
	ErrClosed = errors.New("prov: client is closed")
)

var sentinelByStatus = map[Status]error{
	StatusInvalidArgument:   ErrInvalidArgument,
	StatusNoMemory:          ErrNoMemory,
	StatusCredential:        ErrCredential,
	StatusConnectionFailed:  ErrConnectionFailed,
	StatusConnectionDropped: ErrConnectionDropped,
	StatusTimeout:           ErrTimeout,
	StatusCancelled:         ErrCancelled,
	StatusService:           ErrService,
	StatusProtocol:          ErrProtocol,
	StatusBusy:              ErrBusy,
	StatusInternal:          ErrInternal,
	StatusCertificate:       ErrCertificate,
}

// Error is every failure this package returns.
type Error struct {
	// Op names what failed, e.g. "register" or "create client".
	Op string
	// Status is libprov's status code.
	Status Status
	// Message is libprov's explanation, naming the step and the cause.
	Message string
	// Service holds the service's error details when it answered with an
	// error, else nil.
	Service *ServiceError

	closed  bool  // use after Close
	context error // context.DeadlineExceeded when the context's deadline ran out
}

func (e *Error) Error() string {
	var text strings.Builder
	fmt.Fprintf(&text, "prov: %s: %s", e.Op, e.Status)
	if e.Message != "" {
		fmt.Fprintf(&text, ": %s", e.Message)
	}
	if e.Service != nil {
		fmt.Fprintf(&text, " (%s)", e.Service.Error())
	}
	return text.String()
}

// Unwrap exposes the sentinel for the status, the *ServiceError and the
// context error (if any) to errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	wrapped := make([]error, 0, 4)
	if sentinel, ok := sentinelByStatus[e.Status]; ok {
		wrapped = append(wrapped, sentinel)
	}
	if e.closed {
		wrapped = append(wrapped, ErrClosed)
	}
	if e.Service != nil {
		wrapped = append(wrapped, e.Service)
	}
	if e.context != nil {
		wrapped = append(wrapped, e.context)
	}
	return wrapped
}

// ServiceError carries what the service said about a failed registration.
type ServiceError struct {
	// Code is the 6-digit DPS error code, e.g. 401002; 0 when none was sent.
	Code int32
	// HTTPStatus is the HTTP-like status of the last response, e.g. 401.
	HTTPStatus int
	// TrackingID is the service's id for support cases ("" when none).
	TrackingID string
	// Message is the service's own message ("" when none).
	Message string
	// RegistrationStatus is the registration's status when it ended as
	// "failed" or "disabled" ("" otherwise).
	RegistrationStatus string
}

func (e *ServiceError) Error() string {
	var text strings.Builder
	fmt.Fprintf(&text, "service error %d", e.Code)
	if e.HTTPStatus != 0 {
		fmt.Fprintf(&text, ", HTTP %d", e.HTTPStatus)
	}
	if e.RegistrationStatus != "" {
		fmt.Fprintf(&text, ", status %q", e.RegistrationStatus)
	}
	if e.TrackingID != "" {
		fmt.Fprintf(&text, ", tracking id %s", e.TrackingID)
	}
	if e.Message != "" {
		fmt.Fprintf(&text, ": %s", e.Message)
	}
	return text.String()
}

// pendingError returns the failure the last native call on this OS thread
// recorded, or nil. Callers hold the OS thread locked from the call to here
// (see callNative).
func pendingError(op string) error {
	status := Status(native.Prov_binding_last_status())
	if status == StatusOK {
		return nil
	}
	failure := &Error{Op: op, Status: status, Message: native.Prov_binding_last_message()}
	code := int32(native.Prov_binding_last_error_code())
	httpStatus := native.Prov_binding_last_http_status()
	trackingID := native.Prov_binding_last_tracking_id()
	serviceMessage := native.Prov_binding_last_service_message()
	if code != 0 || httpStatus != 0 || trackingID != "" || serviceMessage != "" {
		failure.Service = &ServiceError{Code: code, HTTPStatus: httpStatus,
			TrackingID: trackingID, Message: serviceMessage,
			RegistrationStatus: native.Prov_binding_last_registration_status()}
	}
	return failure
}

func closedError(op string) error {
	return &Error{Op: op, Status: StatusInvalidArgument, Message: "client is closed", closed: true}
}

func invalidArgument(op, message string) error {
	return &Error{Op: op, Status: StatusInvalidArgument, Message: message}
}

// contextError is the error for a context that is done before a
// registration starts.
func contextError(ctx context.Context) error {
	err := ctx.Err()
	status := StatusCancelled
	if errors.Is(err, context.DeadlineExceeded) {
		status = StatusTimeout
	}
	return &Error{Op: "register", Status: status, Message: err.Error(), context: err}
}
