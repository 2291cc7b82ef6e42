package org.libprov;

/** The shape of the certificate issuance request ({@code PROV_CSR_API_*}). */
public enum CsrApi {
  /** "csr" to "issuedCertificateChain", api-version 2025-07-01-preview (the default). */
  V2025_07_01_PREVIEW(1),
  /** "clientCertificateCsr" to "issuedClientCertificate" and "trustBundle", 2021-11-01-preview. */
  V2021_11_01_PREVIEW(2);

  final int nativeValue;

  CsrApi(int nativeValue) {
    this.nativeValue = nativeValue;
  }
}
