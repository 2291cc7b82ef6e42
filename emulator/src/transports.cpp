#include <openssl/pem.h>
#include <openssl/x509.h>

#include "net.h"

namespace dpsemu {

namespace {

std::string endpoint_text(const tcp::socket &socket) {
  beast::error_code ec;
  auto ep = socket.remote_endpoint(ec);
  if (ec) return "?";
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

std::string x509_to_pem(X509 *cert) {
  BIO *bio = BIO_new(BIO_s_mem());
  if (!bio) return {};
  std::string pem;
  if (PEM_write_bio_X509(bio, cert) == 1) {
    char *data = nullptr;
    long len = BIO_get_mem_data(bio, &data);
    if (len > 0) pem.assign(data, static_cast<size_t>(len));
  }
  BIO_free(bio);
  return pem;
}

class TlsTransport : public MqttTransport {
 public:
  explicit TlsTransport(std::shared_ptr<TlsStream> stream) : stream_(std::move(stream)) {}

  void async_read(ReadHandler handler) override {
    stream_->async_read_some(
        asio::buffer(buffer_),
        [this, keep = stream_, handler = std::move(handler)](beast::error_code ec, size_t n) {
          handler(ec, buffer_.data(), n);
        });
  }
  void async_write(std::shared_ptr<const std::vector<uint8_t>> bytes,
                   WriteHandler handler) override {
    asio::async_write(*stream_, asio::buffer(*bytes),
                      [bytes, keep = stream_, handler = std::move(handler)](
                          beast::error_code ec, size_t) { handler(ec); });
  }
  void close() override {
    beast::error_code ec;
    beast::get_lowest_layer(*stream_).socket().shutdown(tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(*stream_).close();
  }
  const char *name() const override { return "mqtt"; }
  std::string remote() const override {
    return endpoint_text(beast::get_lowest_layer(*stream_).socket());
  }
  std::vector<std::string> peer_chain() override {
    return peer_chain_pem(stream_->native_handle());
  }
  asio::any_io_executor executor() override { return stream_->get_executor(); }

 private:
  std::shared_ptr<TlsStream> stream_;
  std::array<uint8_t, 16 * 1024> buffer_{};
};

class WsTransport : public MqttTransport {
 public:
  explicit WsTransport(std::shared_ptr<WsStream> stream) : stream_(std::move(stream)) {
    stream_->binary(true);
    stream_->read_message_max(kMaxMessageBytes + 16);
  }

  void async_read(ReadHandler handler) override {
    buffer_.consume(buffer_.size());
    stream_->async_read(buffer_, [this, keep = stream_, handler = std::move(handler)](
                                     beast::error_code ec, size_t) {
      auto data = buffer_.data();
      handler(ec, static_cast<const uint8_t *>(data.data()), data.size());
    });
  }
  void async_write(std::shared_ptr<const std::vector<uint8_t>> bytes,
                   WriteHandler handler) override {
    stream_->async_write(asio::buffer(*bytes),
                         [bytes, keep = stream_, handler = std::move(handler)](
                             beast::error_code ec, size_t) { handler(ec); });
  }
  void close() override {
    auto &socket = beast::get_lowest_layer(*stream_).socket();
    beast::error_code ec;
    socket.shutdown(tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(*stream_).close();
  }
  const char *name() const override { return "mqtt-ws"; }
  std::string remote() const override {
    return endpoint_text(beast::get_lowest_layer(*stream_).socket());
  }
  std::vector<std::string> peer_chain() override {
    return peer_chain_pem(stream_->next_layer().native_handle());
  }
  asio::any_io_executor executor() override { return stream_->get_executor(); }

 private:
  std::shared_ptr<WsStream> stream_;
  beast::flat_buffer buffer_;
};

}  // namespace

std::vector<std::string> peer_chain_pem(SSL *ssl) {
  std::vector<std::string> chain;
  X509 *leaf = SSL_get0_peer_certificate(ssl);
  if (!leaf) return chain;
  chain.push_back(x509_to_pem(leaf));
  // On the server side the peer chain does not include the leaf; on resumption it may be absent.
  STACK_OF(X509) *rest = SSL_get_peer_cert_chain(ssl);
  for (int i = 0; rest && i < sk_X509_num(rest); ++i) {
    X509 *cert = sk_X509_value(rest, i);
    if (X509_cmp(cert, leaf) == 0) continue;
    chain.push_back(x509_to_pem(cert));
  }
  return chain;
}

void set_no_delay(tcp::socket &socket) {
  beast::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
}

std::shared_ptr<MqttTransport> make_tls_transport(std::shared_ptr<TlsStream> stream) {
  return std::make_shared<TlsTransport>(std::move(stream));
}
std::shared_ptr<MqttTransport> make_ws_transport(std::shared_ptr<WsStream> stream) {
  return std::make_shared<WsTransport>(std::move(stream));
}

}  // namespace dpsemu
