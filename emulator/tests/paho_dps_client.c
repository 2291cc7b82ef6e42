/* An independent DPS device built on Paho MQTT C (synchronous API, Debian libpaho-mqtt-dev):
 * connects over ssl:// or wss://, subscribes to the response topic, publishes the register
 * request, polls while 202, and prints the final response topic and body on stdout.
 * Used by test_paho_interop.py against the real dps-emulator process.
 *
 * usage: paho_dps_client URI CA_FILE ID_SCOPE REGISTRATION_ID SAS_TOKEN|- [CERT KEY]
 *   URI: ssl://127.0.0.1:PORT or wss://127.0.0.1:PORT/$iothub/websocket
 * exit: 0 when the final status is 200 "assigned", 3 for any other final response, 1 on errors. */
#include <MQTTClient.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int wait_response(MQTTClient client, char *topic_out, size_t topic_len, char *body_out,
                         size_t body_len) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    char *topic = NULL;
    int topic_name_len = 0;
    MQTTClient_message *message = NULL;
    int rc = MQTTClient_receive(client, &topic, &topic_name_len, &message, 200);
    if (rc != MQTTCLIENT_SUCCESS && rc != MQTTCLIENT_TOPICNAME_TRUNCATED) {
      fprintf(stderr, "receive failed: %d\n", rc);
      return -1;
    }
    if (message == NULL) continue; /* timeout */
    snprintf(topic_out, topic_len, "%s", topic);
    size_t n =
        (size_t)message->payloadlen < body_len - 1 ? (size_t)message->payloadlen : body_len - 1;
    memcpy(body_out, message->payload, n);
    body_out[n] = '\0';
    MQTTClient_freeMessage(&message);
    MQTTClient_free(topic);
    return 0;
  }
  fprintf(stderr, "no response within 20 s\n");
  return -1;
}

/* Copies the value of "key":"..." from a flat JSON text (enough for operationId / status). */
static int json_string_field(const char *json, const char *key, char *out, size_t out_len) {
  char pattern[64];
  snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
  const char *start = strstr(json, pattern);
  if (!start) return -1;
  start += strlen(pattern);
  const char *end = strchr(start, '"');
  if (!end || (size_t)(end - start) >= out_len) return -1;
  memcpy(out, start, (size_t)(end - start));
  out[end - start] = '\0';
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 6 && argc != 8) {
    fprintf(stderr, "usage: %s URI CA_FILE ID_SCOPE REGISTRATION_ID SAS_TOKEN|- [CERT KEY]\n",
            argv[0]);
    return 1;
  }
  const char *uri = argv[1], *ca = argv[2], *scope = argv[3], *reg_id = argv[4], *sas = argv[5];
  MQTTClient client;
  if (MQTTClient_create(&client, uri, reg_id, MQTTCLIENT_PERSISTENCE_NONE, NULL) !=
      MQTTCLIENT_SUCCESS) {
    fprintf(stderr, "create failed\n");
    return 1;
  }
  char username[512];
  snprintf(username, sizeof username,
           "%s/registrations/%s/api-version=2019-03-31&ClientVersion=paho-c", scope, reg_id);
  MQTTClient_connectOptions opts = MQTTClient_connectOptions_initializer;
  MQTTClient_SSLOptions ssl = MQTTClient_SSLOptions_initializer;
  ssl.trustStore = ca;
  ssl.enableServerCertAuth = 1;
  ssl.verify = 1;
  ssl.sslVersion = MQTT_SSL_VERSION_TLS_1_2;
  if (argc == 8) {
    ssl.keyStore = argv[6];
    ssl.privateKey = argv[7];
  }
  opts.ssl = &ssl;
  opts.keepAliveInterval = 60;
  opts.cleansession = 1;
  opts.username = username;
  if (strcmp(sas, "-") != 0) opts.password = sas;
  opts.MQTTVersion = MQTTVERSION_3_1_1;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  int rc = MQTTClient_connect(client, &opts);
  if (rc != MQTTCLIENT_SUCCESS) {
    fprintf(stderr, "connect failed: %d\n", rc);
    MQTTClient_destroy(&client);
    return 1;
  }
  rc = MQTTClient_subscribe(client, "$dps/registrations/res/#", 1);
  if (rc != MQTTCLIENT_SUCCESS) {
    fprintf(stderr, "subscribe failed: %d\n", rc);
    return 1;
  }
  char body[4096];
  snprintf(body, sizeof body, "{\"registrationId\":\"%s\",\"payload\":{\"client\":\"paho\"}}",
           reg_id);
  MQTTClient_deliveryToken token;
  rc = MQTTClient_publish(client, "$dps/registrations/PUT/iotdps-register/?$rid=1",
                          (int)strlen(body), body, 1, 0, &token);
  if (rc == MQTTCLIENT_SUCCESS) rc = MQTTClient_waitForCompletion(client, token, 10000);
  if (rc != MQTTCLIENT_SUCCESS) {
    fprintf(stderr, "publish failed: %d\n", rc);
    return 1;
  }
  char topic[512], response[8192];
  int result = 1;
  for (int poll = 0; poll < 30; ++poll) {
    if (wait_response(client, topic, sizeof topic, response, sizeof response) != 0) break;
    if (strncmp(topic, "$dps/registrations/res/202/", 27) == 0) {
      char operation_id[256], query[512];
      if (json_string_field(response, "operationId", operation_id, sizeof operation_id) != 0) {
        fprintf(stderr, "202 without operationId: %s\n", response);
        break;
      }
      snprintf(query, sizeof query,
               "$dps/registrations/GET/iotdps-get-operationstatus/?$rid=%d&operationId=%s",
               poll + 2, operation_id);
      rc = MQTTClient_publish(client, query, 0, "", 1, 0, &token);
      if (rc == MQTTCLIENT_SUCCESS) rc = MQTTClient_waitForCompletion(client, token, 10000);
      if (rc != MQTTCLIENT_SUCCESS) {
        fprintf(stderr, "poll publish failed: %d\n", rc);
        break;
      }
      continue;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    printf("topic=%s\nbody=%s\nelapsed_ms=%.1f\n", topic, response, ms);
    char status[64];
    result = (strncmp(topic, "$dps/registrations/res/200/", 27) == 0 &&
              json_string_field(response, "status", status, sizeof status) == 0 &&
              strcmp(status, "assigned") == 0)
                 ? 0
                 : 3;
    break;
  }
  MQTTClient_disconnect(client, 1000);
  MQTTClient_destroy(&client);
  return result;
}
