package org.libprov;

/** The key pair generated for a certificate signing request ({@code PROV_KEY_*}). */
public enum KeyType {
  /** No CSR. */
  NONE(0),
  EC_P256(1),
  RSA_2048(2);

  final int nativeValue;

  KeyType(int nativeValue) {
    this.nativeValue = nativeValue;
  }
}
