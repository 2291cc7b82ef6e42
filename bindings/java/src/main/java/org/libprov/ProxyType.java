package org.libprov;

/** Kinds of proxy ({@code prov_proxy_type} in prov.h), as the Python SDK's ProxyOptions. */
public enum ProxyType {
  NONE(0),
  /** HTTP CONNECT proxy. */
  HTTP(1),
  /** HTTP CONNECT proxy reached over TLS. */
  HTTPS(2),
  SOCKS4(3),
  /** SOCKS4a: the proxy resolves the destination. */
  SOCKS4A(4),
  SOCKS5(5),
  /** SOCKS5 with the destination resolved by the proxy. */
  SOCKS5H(6);

  final int nativeValue;

  ProxyType(int nativeValue) {
    this.nativeValue = nativeValue;
  }
}
