package org.libprov;

/** How the client talks to the service ({@code prov_transport} in prov.h). */
public enum Transport {
  /** MQTT 3.1.1 over TLS, default port 8883 (the default). */
  MQTT(0),
  /** MQTT over WebSockets over TLS, default port 443 (the Python SDK's websockets=True). */
  MQTT_WEBSOCKETS(1),
  /** The DPS HTTPS REST API, default port 443. */
  HTTPS(2);

  final int nativeValue;

  Transport(int nativeValue) {
    this.nativeValue = nativeValue;
  }
}
