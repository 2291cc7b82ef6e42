// Interop: the official Azure IoT Node provisioning SDK, unmodified, registers
// against dps-emulator. Run by netns-run.sh (private network namespace, the
// emulator on localhost:8883/443) with node's built-in test runner:
//   INTEROP_TRANSPORT=mqtt|mqttws|http node --test provisioning.test.js
// The SDK packages come from NODE_PATH (node_modules installed by npm ci from
// package-lock.json into the build directory).
'use strict';

const { test, before } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const { ProvisioningDeviceClient } = require('azure-iot-provisioning-device');
const { Mqtt, MqttWs } = require('azure-iot-provisioning-device-mqtt');
const { Http } = require('azure-iot-provisioning-device-http');
const { SymmetricKeySecurityClient } = require('azure-iot-security-symmetric-key');
const { X509Security } = require('azure-iot-security-x509');

function requireEnv(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run this file through tests/interop/netns-run.sh`);
  }
  return value;
}

const transportName = requireEnv('INTEROP_TRANSPORT');
const transports = { mqtt: Mqtt, mqttws: MqttWs, http: Http };
if (!transports[transportName]) {
  throw new Error(`INTEROP_TRANSPORT must be one of ${Object.keys(transports).join(', ')}, not '${transportName}'`);
}
const isHttp = transportName === 'http';
const fixture = JSON.parse(fs.readFileSync(requireEnv('INTEROP_FIXTURE'), 'utf8'));
const provisioningHost = requireEnv('INTEROP_PROVISIONING_HOST');
const adminPort = Number(requireEnv('INTEROP_ADMIN_PORT'));
const emulatorBin = requireEnv('INTEROP_EMULATOR');
const device = (id) => {
  const d = fixture.devices[id];
  assert.ok(d, `fixture has no device ${id}`);
  return d;
};

// A registration is bounded here too, so a hang names the case instead of
// ending in the ctest timeout (the SDK's own per-request timeout is 30 s).
const REGISTER_LIMIT_MS = 40000;

function withLimit(promise, what) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${REGISTER_LIMIT_MS} ms`)), REGISTER_LIMIT_MS);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

function newClient(security) {
  const Transport = transports[transportName];
  return ProvisioningDeviceClient.create(provisioningHost, fixture.idScope, new Transport(), security);
}

function registerWithKey(registrationId, key, payload) {
  const client = newClient(new SymmetricKeySecurityClient(registrationId, key));
  if (payload !== undefined) client.setProvisioningPayload(payload);
  return withLimit(client.register(), `register ${registrationId} (${transportName}, symmetric key)`);
}

function registerWithCert(registrationId, certPath, keyPath, passphrase) {
  const credentials = { cert: fs.readFileSync(certPath, 'utf8'), key: fs.readFileSync(keyPath, 'utf8') };
  if (passphrase !== undefined) credentials.passphrase = passphrase;
  const client = newClient(new X509Security(registrationId, credentials));
  return withLimit(client.register(), `register ${registrationId} (${transportName}, X.509)`);
}

async function expectFailure(promise) {
  try {
    const result = await promise;
    assert.fail(`registration succeeded but a failure was expected: ${JSON.stringify(result)}`);
  } catch (err) {
    if (err instanceof assert.AssertionError) throw err;
    return err;
  }
}

// The emulator's loopback admin endpoint (faults, records, counters).
function adminRequest(method, urlPath, body) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      {
        host: '127.0.0.1',
        port: adminPort,
        path: urlPath,
        method,
        headers: payload ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) } : {},
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => {
          if (res.statusCode !== 200) return reject(new Error(`admin ${method} ${urlPath}: HTTP ${res.statusCode} ${text}`));
          try {
            resolve(JSON.parse(text));
          } catch (e) {
            reject(new Error(`admin ${method} ${urlPath}: not JSON: ${text}`));
          }
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const adminGet = (urlPath) => adminRequest('GET', urlPath);

// Finds the emulator's record of a registration id in GET /registrations,
// whatever the envelope (an array, or an object holding one).
function findRecord(doc, registrationId) {
  const stack = [doc];
  while (stack.length) {
    const node = stack.pop();
    if (Array.isArray(node)) stack.push(...node);
    else if (node && typeof node === 'object') {
      if (typeof node.registrationId === 'string' && node.registrationId.toLowerCase() === registrationId.toLowerCase()) {
        return node;
      }
      stack.push(...Object.values(node));
    }
  }
  return undefined;
}

const SUBSTATUS_VALUES = ['initialAssignment', 'deviceDataMigrated', 'deviceDataReset', 'reprovisionedToInitialAssignment'];

function assertAssigned(state, registrationId, expectedDeviceId, { firstRegistration = true } = {}) {
  assert.equal(typeof state, 'object', 'register() resolves to the registrationState object');
  assert.equal(state.registrationId, registrationId);
  assert.equal(state.status, 'assigned');
  assert.equal(state.deviceId, expectedDeviceId);
  assert.ok(fixture.iotHubs.includes(state.assignedHub), `assignedHub ${state.assignedHub} is one of ${fixture.iotHubs}`);
  if (firstRegistration) assert.equal(state.substatus, 'initialAssignment');
  else assert.ok(SUBSTATUS_VALUES.includes(state.substatus), `substatus ${state.substatus}`);
  for (const field of ['createdDateTimeUtc', 'lastUpdatedDateTimeUtc']) {
    assert.ok(!Number.isNaN(Date.parse(state[field])), `${field} is a date-time: ${state[field]}`);
  }
  assert.equal(typeof state.etag, 'string');
  assert.ok(state.etag.length > 0, 'etag is not empty');
}

// The service's 6-digit error code for an unauthorized request: 401002 is what
// DPS sends for unknown registrations and bad credentials (401000 was also seen).
function assertUnauthorizedCode(code) {
  assert.ok(code === 401002 || code === 401000, `errorCode is 401002 (or 401000), got ${code}`);
}

// What the SDK reports for a request-level 401: the transport differs, the
// error type is the same.
function assertUnauthorized(err) {
  assert.equal(err.constructor.name, 'UnauthorizedError', `error type: ${err.constructor.name}: ${err.message}`);
  if (isHttp) {
    // azure-iot-http-base: status >= 300 is an error before provisioning sees it.
    assert.equal(err.response.statusCode, 401);
    const body = JSON.parse(err.responseBody);
    assertUnauthorizedCode(body.errorCode);
    assert.equal(typeof body.trackingId, 'string');
    assert.equal(typeof body.message, 'string');
    assert.ok(!Number.isNaN(Date.parse(body.timestampUtc)), 'timestampUtc is a date-time');
    assert.match(String(err.response.headers['content-type']), /^application\/json/);
    assert.equal(err.response.headers['x-ms-request-id'], body.trackingId, 'x-ms-request-id equals trackingId');
    // Node folds the raw body into the message, so users see the code.
    assert.match(err.message, /40100[02]/);
  } else {
    // Provisioning MQTT: translateError('incoming message failure', 401, body).
    assert.equal(err.transportObject.topic.split('/')[3], '401', `response topic ${err.transportObject.topic}`);
    assertUnauthorizedCode(err.result.errorCode);
    assert.equal(typeof err.result.trackingId, 'string');
    assert.equal(typeof err.result.message, 'string');
  }
}

before(() => {
  const versions = {};
  for (const pkg of [
    'azure-iot-provisioning-device',
    'azure-iot-provisioning-device-mqtt',
    'azure-iot-provisioning-device-http',
    'azure-iot-security-symmetric-key',
    'azure-iot-security-x509',
    'azure-iot-common',
    'mqtt',
  ]) {
    const pkgJson = require.resolve(`${pkg}/package.json`);
    versions[pkg] = JSON.parse(fs.readFileSync(pkgJson, 'utf8')).version;
  }
  console.log(`# Node SDK under test (transport ${transportName}): ${JSON.stringify(versions)}`);
});

test('symmetric key, individual enrollment: assigned with the enrollment device id', async () => {
  const d = device('sym-dev-1');
  const state = await registerWithKey(d.registrationId, d.symmetricKey);
  assertAssigned(state, d.registrationId, 'sym-dev-1-as-device');
  const record = findRecord(await adminGet('/registrations'), d.registrationId);
  assert.ok(record, 'the emulator stored a registration record');
  assert.equal(record.assignedHub, state.assignedHub, 'the stored record has the hub the device got');
});

test('symmetric key, individual enrollment: re-registration with the secondary key keeps identity', async () => {
  const d = device('sym-dev-1');
  const first = await registerWithKey(d.registrationId, d.symmetricKey);
  const second = await registerWithKey(d.registrationId, d.secondaryKey);
  assertAssigned(second, d.registrationId, 'sym-dev-1-as-device', { firstRegistration: false });
  assert.equal(second.assignedHub, first.assignedHub, 'allocation is stable per registration id');
  assert.equal(second.createdDateTimeUtc, first.createdDateTimeUtc, 'createdDateTimeUtc survives re-registration');
  assert.notEqual(second.etag, first.etag, 'etag changes on re-registration');
});

test('symmetric key, group enrollment: device key derived from the group key', async () => {
  // The fixture derived the key from the group key (make_fixture.py); the
  // derive-key test below checks that derivation against node:crypto.
  const d = device('group-dev-a');
  const state = await registerWithKey(d.registrationId, d.symmetricKey);
  assertAssigned(state, d.registrationId, d.registrationId);
  const other = device('group-dev-b');
  assertAssigned(await registerWithKey(other.registrationId, other.symmetricKey), other.registrationId, other.registrationId);
});

test('symmetric key, group enrollment: a key derived for another id is refused', async () => {
  const a = device('group-dev-a');
  const b = device('group-dev-b');
  assertUnauthorized(await expectFailure(registerWithKey(b.registrationId, a.symmetricKey)));
});

test('dps-emulator derive-key agrees with the SDK-side derivation', () => {
  const d = device('group-dev-a');
  const config = JSON.parse(fs.readFileSync(path.join(requireEnv('INTEROP_WORKDIR'), 'config.json'), 'utf8'));
  const groupKey = config.enrollmentGroups.find((g) => g.enrollmentGroupId === d.group).attestation.primaryKey;
  const mine = crypto.createHmac('sha256', Buffer.from(groupKey, 'base64')).update(d.registrationId, 'utf8').digest('base64');
  assert.equal(mine, d.symmetricKey);
  const theirs = execFileSync(emulatorBin, ['derive-key', '--group-key', groupKey, '--registration-id', d.registrationId], {
    encoding: 'utf8',
  }).trim();
  assert.equal(theirs, mine);
});

test('device payload is echoed back in registrationState.payload', async () => {
  const d = device('sym-echo-1');
  const payload = { modelId: 'dtmi:interop:thermostat;1', tags: ['a', 'b'], n: 3 };
  const state = await registerWithKey(d.registrationId, d.symmetricKey, payload);
  assertAssigned(state, d.registrationId, d.registrationId);
  assert.deepEqual(state.payload, payload);
});

test('enrollment initial payload is returned in registrationState.payload', async () => {
  const d = device('sym-payload-1');
  const state = await registerWithKey(d.registrationId, d.symmetricKey);
  assertAssigned(state, d.registrationId, d.registrationId);
  assert.deepEqual(state.payload, { color: 'blue', answer: 42, nested: { ok: true } });
});

test('slow assignment: 202 assigning, the SDK polls after retry-after, then assigned', async () => {
  const d = device('sym-slow-1');
  const started = Date.now();
  const state = await registerWithKey(d.registrationId, d.symmetricKey);
  const elapsed = Date.now() - started;
  assertAssigned(state, d.registrationId, d.registrationId);
  // assignmentDelayMs 1500 with retry-after 1: at least one poll was needed.
  assert.ok(elapsed >= 1400, `registration took ${elapsed} ms; an immediate answer means no 202/poll happened`);
  assert.ok(elapsed < 10000, `registration took ${elapsed} ms; retry-after 1 s was not honoured`);
});

test('X.509 individual enrollment (self-signed, by thumbprint)', async () => {
  const d = device('x509-self-1');
  const state = await registerWithCert(d.registrationId, d.cert, d.key);
  assertAssigned(state, d.registrationId, d.registrationId);
});

test('X.509 CA group enrollment, device signed by an intermediate (chain in the cert file)', async () => {
  for (const id of ['x509-grp-dev-1', 'x509-grp-dev-2']) {
    const d = device(id);
    const state = await registerWithCert(d.registrationId, d.cert, d.key);
    assertAssigned(state, d.registrationId, d.registrationId);
  }
});

test('X.509 individual enrollment with a pass-phrase-encrypted private key', async () => {
  const d = device('x509-enckey-1');
  const state = await registerWithCert(d.registrationId, d.cert, d.key, d.passPhrase);
  assertAssigned(state, d.registrationId, d.registrationId);
});

test('X.509 CA group whose enrolled CA is an intermediate', async () => {
  const d = device('x509-igrp-dev-1');
  const state = await registerWithCert(d.registrationId, d.cert, d.key);
  assertAssigned(state, d.registrationId, d.registrationId);
});

test('mass onboarding: 20 group devices register concurrently', async () => {
  const config = JSON.parse(fs.readFileSync(path.join(requireEnv('INTEROP_WORKDIR'), 'config.json'), 'utf8'));
  const groupKey = config.enrollmentGroups.find((g) => g.enrollmentGroupId === 'interop-sym-group').attestation.primaryKey;
  const ids = Array.from({ length: 20 }, (_, i) => `bulk-${transportName}-${String(i).padStart(2, '0')}`);
  const states = await Promise.all(
    ids.map((id) =>
      registerWithKey(id, crypto.createHmac('sha256', Buffer.from(groupKey, 'base64')).update(id, 'utf8').digest('base64')),
    ),
  );
  states.forEach((state, i) => assertAssigned(state, ids[i], ids[i]));
  // Allocation hashes per registration id: 20 devices use both hubs.
  assert.equal(new Set(states.map((s) => s.assignedHub)).size, fixture.iotHubs.length, 'devices spread over all hubs');
  const records = await adminGet('/registrations');
  for (const id of ids) assert.ok(findRecord(records, id), `record stored for ${id}`);
});

test('negative: X.509 certificate from a CA no enrollment trusts -> 401', async () => {
  const d = device('x509-rogue-1');
  assertUnauthorized(await expectFailure(registerWithCert(d.registrationId, d.cert, d.key)));
});

test('negative: X.509 registration id differs from the certificate CN -> 401', async () => {
  const d = device('x509-grp-dev-2');
  assertUnauthorized(await expectFailure(registerWithCert('x509-grp-dev-impostor', d.cert, d.key)));
});

test('negative: wrong symmetric key -> 401', async () => {
  const d = device('sym-dev-1');
  const wrongKey = crypto.randomBytes(64).toString('base64');
  assertUnauthorized(await expectFailure(registerWithKey(d.registrationId, wrongKey)));
});

test('negative: unknown registration id -> 401', async () => {
  const key = crypto.randomBytes(64).toString('base64');
  assertUnauthorized(await expectFailure(registerWithKey('no-such-device-in-any-enrollment', key)));
});

test('negative: disabled enrollment -> status "disabled" (SDK raises SyntaxError "status is disabled")', async () => {
  const d = device('sym-disabled-1');
  const err = await expectFailure(registerWithKey(d.registrationId, d.symmetricKey));
  // The service answers 200 with status "disabled"; the Node polling state
  // machine knows only registering/assigning/assigned/failed.
  assert.equal(err.constructor.name, 'SyntaxError', `error type: ${err.constructor.name}: ${err.message}`);
  assert.equal(err.message, 'status is disabled');
  assert.equal(err.result.status, 'disabled');
  assert.equal(err.result.registrationState.status, 'disabled');
  assert.equal(err.result.registrationState.registrationId, d.registrationId);
});

if (isHttp) {
  test('negative: throttling over HTTPS -> ThrottlingError (Node HTTP does not retry 429)', async () => {
    const d = device('sym-throttled-1');
    const err = await expectFailure(registerWithKey(d.registrationId, d.symmetricKey));
    assert.equal(err.constructor.name, 'ThrottlingError', `error type: ${err.constructor.name}: ${err.message}`);
    assert.equal(err.response.statusCode, 429);
    assert.equal(err.response.headers['retry-after'], '1', 'retry-after header, integer seconds');
    const body = JSON.parse(err.responseBody);
    assert.equal(Math.floor(body.errorCode / 1000), 429, `errorCode ${body.errorCode} is a 429xxx code`);
  });
} else {
  test('throttling over MQTT: 429 + retry-after twice, the SDK retries and is assigned', async () => {
    const d = device('sym-throttled-1');
    const started = Date.now();
    const state = await registerWithKey(d.registrationId, d.symmetricKey);
    const elapsed = Date.now() - started;
    assertAssigned(state, d.registrationId, d.registrationId);
    // Two throttled attempts, each followed by a 1 s retry-after wait.
    assert.ok(elapsed >= 1900, `registration took ${elapsed} ms; expected two 1 s retry-after waits`);
    assert.ok(elapsed < 15000, `registration took ${elapsed} ms`);
  });
}

test('service error 503 once (global fault set through the admin endpoint)', async () => {
  const d = device('group-dev-b');
  await adminRequest('PUT', '/faults', {
    faults: [{ type: 'error', status: 503, every: 1, count: 1, retryAfterSeconds: 1, registrationId: d.registrationId }],
  });
  try {
    if (isHttp) {
      // The HTTP base layer maps 503 to ServiceUnavailableError; no retry.
      const err = await expectFailure(registerWithKey(d.registrationId, d.symmetricKey));
      assert.equal(err.constructor.name, 'ServiceUnavailableError', `error type: ${err.constructor.name}: ${err.message}`);
      assert.equal(err.response.statusCode, 503);
      assert.equal(JSON.parse(err.responseBody).errorCode, 503001);
    } else {
      // Provisioning MQTT treats every status >= 429 as transient and retries.
      const state = await registerWithKey(d.registrationId, d.symmetricKey);
      assertAssigned(state, d.registrationId, d.registrationId, { firstRegistration: false });
    }
  } finally {
    await adminRequest('DELETE', '/faults');
  }
});

// Last: the emulator's own counters confirm the transport really used and the
// injected throttling (so a test cannot pass over the wrong path).
test('emulator counters: every request came over the transport under test', async () => {
  const expected = { mqtt: 'mqtt', mqttws: 'mqtt-ws', http: 'https' }[transportName];
  const stats = await adminGet('/stats');
  const byTransport = stats.requestsByTransport || {};
  assert.deepEqual(Object.keys(byTransport), [expected], `requestsByTransport ${JSON.stringify(byTransport)}`);
  assert.ok(byTransport[expected] >= 15, `at least 15 requests over ${expected}: ${byTransport[expected]}`);
  const throttled = (stats.faultsInjected || {}).throttle;
  assert.equal(throttled, isHttp ? 1 : 2, `throttle faults injected: ${JSON.stringify(stats.faultsInjected)}`);
  assert.equal(stats.faultsInjected.error, 1, `error faults injected: ${JSON.stringify(stats.faultsInjected)}`);
});
