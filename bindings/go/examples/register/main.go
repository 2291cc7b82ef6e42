// Command register registers a device with a symmetric key and prints its
// hub and device id.
//
// Environment (the same names as the Python SDK sample):
//
//	PROVISIONING_HOST             e.g. global.azure-devices-provisioning.net,
//	                              or localhost:<mqtt port> for dps-emulator
//	PROVISIONING_IDSCOPE          the DPS id scope
//	PROVISIONING_REGISTRATION_ID  the registration id
//	PROVISIONING_SYMMETRIC_KEY    the device key (Base64)
//	PROVISIONING_SERVER_CERT      optional: a PEM file to trust (dps-emulator:
//	                              `dps-emulator ca-path --data-dir DIR`)
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/libprov/libprov/bindings/go/prov"
)

func required(name string) string {
	value := os.Getenv(name)
	if value == "" {
		fmt.Fprintf(os.Stderr, "%s is not set\n", name)
		os.Exit(2)
	}
	return value
}

func main() {
	var options []prov.Option
	if certPath := os.Getenv("PROVISIONING_SERVER_CERT"); certPath != "" {
		pem, err := os.ReadFile(certPath)
		if err != nil {
			fmt.Fprintln(os.Stderr, "cannot read the server certificate:", err)
			os.Exit(2)
		}
		options = append(options, prov.WithServerVerificationCert(string(pem)))
	}

	client, err := prov.NewSymmetricKeyClient(required("PROVISIONING_HOST"),
		required("PROVISIONING_REGISTRATION_ID"), required("PROVISIONING_IDSCOPE"),
		required("PROVISIONING_SYMMETRIC_KEY"), options...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cannot create the client:", err)
		os.Exit(2)
	}
	defer client.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	result, err := client.Register(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "registration failed:", err)
		var serviceErr *prov.ServiceError
		if errors.As(err, &serviceErr) {
			fmt.Fprintf(os.Stderr, "service error code %d, tracking id %s\n", serviceErr.Code, serviceErr.TrackingID)
		}
		os.Exit(1)
	}
	fmt.Println("assigned hub:", result.AssignedHub)
	fmt.Println("device id:", result.DeviceID)
}
