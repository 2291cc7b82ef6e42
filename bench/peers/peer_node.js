'use strict';
// Node benchmark peer: the official Azure IoT Node provisioning SDK (npm,
// MQTT transport, symmetric key) registers every device of a list, one
// ProvisioningDeviceClient per device, with at most --concurrency
// registrations in flight (1 = sequential), and prints one JSON object.
//
//   NODE_PATH=<node_modules> NODE_EXTRA_CA_CERTS=<ca.pem> node peer_node.js \
//       --devices CSV --host HOST --id-scope SCOPE [--concurrency N]
//
// The SDK always dials port 8883 of HOST and trusts the system store plus
// NODE_EXTRA_CA_CERTS. CPU is process.cpuUsage() (all threads) during the
// registrations only, so start-up and require() are not charged to them.

const fs = require('node:fs');
const { performance } = require('node:perf_hooks');
const { ProvisioningDeviceClient } = require('azure-iot-provisioning-device');
const { Mqtt } = require('azure-iot-provisioning-device-mqtt');
const { SymmetricKeySecurityClient } = require('azure-iot-security-symmetric-key');

function parseArgs(argv) {
  const args = { concurrency: 1 };
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i];
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`option ${name} needs a value`);
    if (name === '--devices') args.devices = value;
    else if (name === '--host') args.host = value;
    else if (name === '--id-scope') args.idScope = value;
    else if (name === '--concurrency') args.concurrency = Number.parseInt(value, 10);
    else throw new Error(`unknown option ${name}`);
  }
  if (!args.devices || !args.host || !args.idScope) {
    throw new Error('--devices, --host and --id-scope are required');
  }
  if (!(args.concurrency >= 1)) throw new Error('--concurrency must be a positive integer');
  return args;
}

function readDevices(path) {
  const lines = fs.readFileSync(path, 'utf8').split(/\r?\n/).filter((l) => l && !l.startsWith('#'));
  if (lines.shift() !== 'registration_id,key') throw new Error(`${path}: header must be registration_id,key`);
  return lines.map((line) => {
    const comma = line.indexOf(',');
    return { registrationId: line.slice(0, comma), key: line.slice(comma + 1) };
  });
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const devices = readDevices(args.devices);
  const latencies = [];
  const failures = {};
  let firstError = '';
  let next = 0;

  async function worker() {
    while (next < devices.length) {
      const device = devices[next++];
      const t0 = performance.now();
      try {
        const security = new SymmetricKeySecurityClient(device.registrationId, device.key);
        const client = ProvisioningDeviceClient.create(args.host, args.idScope, new Mqtt(), security);
        const result = await client.register();
        if (result.status !== 'assigned' || !result.assignedHub) throw new Error(`status ${result.status}`);
        latencies.push(performance.now() - t0);
      } catch (error) {
        const kind = (error && error.constructor && error.constructor.name) || 'Error';
        failures[kind] = (failures[kind] || 0) + 1;
        if (!firstError) firstError = `${device.registrationId}: ${kind}: ${error && error.message}`;
      }
    }
  }

  const cpu0 = process.cpuUsage();
  const started = performance.now();
  await Promise.all(Array.from({ length: Math.min(args.concurrency, devices.length) }, worker));
  const elapsedS = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const sdkVersion = require('azure-iot-provisioning-device/package.json').version;
  process.stdout.write(
    JSON.stringify({
      mode: 'node-sdk',
      library: `azure-iot-provisioning-device ${sdkVersion} (node ${process.versions.node})`,
      threads: args.concurrency,
      count: devices.length,
      ok: latencies.length,
      elapsed_s: elapsedS,
      cpu_user_s: cpu.user / 1e6,
      cpu_sys_s: cpu.system / 1e6,
      failures,
      first_error: firstError,
      latencies_ms: latencies,
    }) + '\n',
  );
  // Open handles (MQTT timers) must not keep a finished benchmark alive.
  process.exit(0);
}

main().catch((error) => {
  process.stderr.write(`peer_node: ${error && error.stack ? error.stack : error}\n`);
  process.exit(2);
});
