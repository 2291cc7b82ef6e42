// Package prov registers devices with the Azure IoT Hub Device Provisioning
// Service (DPS) through libprov, a C library (libprov.so.1) found with
// pkg-config ("prov").
//
//	client, err := prov.NewSymmetricKeyClient("global.azure-devices-provisioning.net",
//		"my-device", "0ne00000A0A", deviceKey)
//	if err != nil { ... }
//	defer client.Close()
//	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
//	defer cancel()
//	result, err := client.Register(ctx)
//	switch {
//	case errors.Is(err, prov.ErrCredential): ...
//	case errors.Is(err, prov.ErrTimeout): ...
//	}
//	var serviceErr *prov.ServiceError
//	if errors.As(err, &serviceErr) { log.Print(serviceErr.Code, serviceErr.TrackingID) }
//
// # Errors
//
// Every failure is an *Error. It matches one of the Err* sentinels with
// errors.Is (by its Status), and, when the service answered with error
// details, contains a *ServiceError (errors.As) with the 6-digit DPS error
// code, the HTTP-like status and the tracking id. Keys and SAS tokens never
// appear in error messages.
//
// # Context
//
// Register honours the context: its deadline shortens the registration's
// overall timeout (WithRegisterTimeout, default 90 s), and a registration
// that runs out of it fails with an error matching both ErrTimeout and
// context.DeadlineExceeded; cancelling the context stops a registration in
// flight within about 100 ms (prov_client_cancel), with an error matching
// both ErrCancelled and context.Canceled. A context that is already done
// fails at once.
//
// # Resources
//
// A Client holds a native handle (and a copy of the key, wiped when freed).
// Call Close when done; a finalizer frees clients that are garbage
// collected without Close, as a safety net only. Results are plain Go
// values and hold nothing native.
//
// # Threads
//
// A Client may be used from several goroutines; a second Register while one
// is in flight on the same client fails at once with ErrBusy. Different
// clients register in parallel. Register runs the registration on libprov's
// own thread (prov_client_register_async): the calling goroutine waits in Go,
// not in C, so thousands of registrations in flight hold no OS thread of
// the Go runtime. libprov's thread only queues progress and the completion
// (through a cgo.Handle); WithProgress handlers run on the goroutine that
// called Register, in order, before it returns.
package prov
