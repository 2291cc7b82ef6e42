package prov

import (
	"time"

	"github.com/libprov/libprov/bindings/go/internal/native"
)

// DeriveDeviceKey derives a device's key for a symmetric-key group
// enrollment: base64(HMAC-SHA256(base64decode(groupKey), registrationID)).
func DeriveDeviceKey(groupKey, registrationID string) (string, error) {
	var key string
	err := callNative("derive device key", func() {
		key = native.Derive_device_key(groupKey, registrationID)
	})
	return key, err
}

// GenerateSASToken builds the SAS token a device presents for
// registrationID in idScope, valid until expiry. The client builds its own
// tokens; this is for diagnostics and custom transports.
func GenerateSASToken(idScope, registrationID, symmetricKey string, expiry time.Time) (string, error) {
	var token string
	err := callNative("generate SAS token", func() {
		token = native.Generate_sas_token(idScope, registrationID, symmetricKey, expiry.Unix())
	})
	return token, err
}

// Version is the version of the libprov library in use, e.g. "1.0.0".
func Version() string { return native.Version_string() }
