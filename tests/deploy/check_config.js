#!/usr/bin/env node
// check_config.js WEBPUSHD RENDERED.yaml...: for each rendered kustomization (the output of
// `kubectl kustomize`), loads the webpushd configuration exactly as the pod would and checks it:
//   - the ConfigMap's webpushd.yaml, with the container's WEBPUSHD__* environment variables,
//     passes `webpushd --check-config` (real key names, values, secret and key files). Secret
//     files are written to a temporary directory standing in for the Secret mounts: the Secret's
//     own data when the rendering contains it (the dev overlay), else dummies (a random token, a
//     fresh P-256 key for VAPID keys, a random Redis password);
//   - terminationGracePeriodSeconds exceeds server.shutdown_grace (the drain on SIGTERM);
//   - the container ports and probes match server.listen and metrics.listen.
// Exits 1 on any failure.
'use strict';

const childProcess = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');
const YAML = require('yaml');

function durationSeconds(text) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(String(text));
  if (!m) {
    return NaN;
  }
  return Number(m[1]) * {ms: 0.001, s: 1, m: 60, h: 3600}[m[2]];
}

function portOf(listen) {
  const m = /:(\d+)$/.exec(String(listen));
  return m ? Number(m[1]) : NaN;
}

function checkRendering(webpushd, file) {
  const problems = [];
  const objects = YAML.parseAllDocuments(fs.readFileSync(file, 'utf8')).map((d) => d.toJS())
      .filter((o) => o);
  const deployment = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'webpushd');
  if (!deployment) {
    return ['no Deployment webpushd'];
  }
  const pod = deployment.spec.template.spec;
  const container = pod.containers.find((c) => c.name === 'webpushd');
  const volumes = Object.fromEntries((pod.volumes || []).map((v) => [v.name, v]));
  const args = container.args || [];
  const configPath = args[args.indexOf('--config') + 1];
  if (args.indexOf('--config') < 0 || !configPath) {
    return ['the container has no --config argument'];
  }
  // The config file: a ConfigMap key mounted (subPath or directory) at configPath.
  let configText = null;
  for (const mount of container.volumeMounts || []) {
    const vol = volumes[mount.name];
    if (!vol || !vol.configMap) {
      continue;
    }
    const key = mount.subPath ? (mount.mountPath === configPath ? mount.subPath : null) :
        (path.dirname(configPath) === mount.mountPath ? path.basename(configPath) : null);
    const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === vol.configMap.name);
    if (key && cm && cm.data && key in cm.data) {
      configText = cm.data[key];
    }
  }
  if (configText === null) {
    return [`no ConfigMap key is mounted at ${configPath}`];
  }

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'webpushd-config-'));
  try {
    // Secret mounts -> directories under tmp, filled with the Secret's data or dummies.
    const mounts = [];
    for (const mount of container.volumeMounts || []) {
      const vol = volumes[mount.name];
      if (!vol || !vol.secret) {
        continue;
      }
      const local = path.join(tmp, 'mnt', mount.name);
      fs.mkdirSync(local, {recursive: true});
      const secret = objects.find((o) => o.kind === 'Secret' && o.metadata.name === vol.secret.secretName);
      for (const [k, v] of Object.entries((secret && secret.data) || {})) {
        fs.writeFileSync(path.join(local, k), Buffer.from(v, 'base64'));
      }
      for (const [k, v] of Object.entries((secret && secret.stringData) || {})) {
        fs.writeFileSync(path.join(local, k), v);
      }
      mounts.push({from: mount.mountPath.replace(/\/$/, ''), to: local, fromSecret: !!secret});
    }
    const relocate = (p) => {
      for (const m of mounts) {
        if (p === m.from || p.startsWith(m.from + '/')) {
          return {path: m.to + p.slice(m.from.length), mount: m};
        }
      }
      return null;
    };
    // Only PATH and sanitizer options (a sanitizer build's webpushd) from the caller's
    // environment, so that no WEBPUSHD__* variable of the caller changes the result.
    const env = {PATH: process.env.PATH};
    for (const name of ['ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS', 'TSAN_OPTIONS']) {
      if (process.env[name] !== undefined) {
        env[name] = process.env[name];
      }
    }
    for (const e of container.env || []) {
      if (!e.name.startsWith('WEBPUSHD__')) {
        continue;
      }
      env[e.name] = e.value !== undefined ? String(e.value) : 'pod-0';  // valueFrom: the pod name
    }
    // Rewrite every mounted secret path, and create the files a Secret made out of band holds.
    const config = YAML.parse(configText) || {};
    const fileRefs = [];
    (config.tenants || []).forEach((t, i) => {
      if (t.token_file) {
        fileRefs.push({where: `tenants[${i}].token_file`, p: t.token_file, kind: 'token'});
      }
      ((t.vapid && t.vapid.keys) || []).forEach((k, j) => {
        if (k.private_key_file) {
          fileRefs.push({where: `tenants[${i}].vapid.keys[${j}].private_key_file`, p: k.private_key_file,
                         kind: 'key'});
        }
      });
    });
    for (const [name, value] of Object.entries(env)) {
      if (name.endsWith('_FILE')) {
        fileRefs.push({where: name, p: value, kind: 'token'});
      }
    }
    let rewritten = configText;
    for (const ref of fileRefs) {
      const r = relocate(ref.p);
      if (!r) {
        problems.push(`${ref.where}: ${ref.p} is not under a mounted Secret`);
        continue;
      }
      if (!fs.existsSync(r.path)) {
        if (r.mount.fromSecret) {
          problems.push(`${ref.where}: ${ref.p}: the Secret has no such key`);
          continue;
        }
        fs.mkdirSync(path.dirname(r.path), {recursive: true});
        fs.writeFileSync(r.path, ref.kind === 'key' ?
            crypto.generateKeyPairSync('ec', {namedCurve: 'prime256v1'}).privateKey
                .export({type: 'pkcs8', format: 'pem'}) :
            crypto.randomBytes(24).toString('base64url'));
      }
      rewritten = rewritten.split(ref.p).join(r.path);
      for (const [name, value] of Object.entries(env)) {
        if (value === ref.p) {
          env[name] = r.path;
        }
      }
    }
    const configFile = path.join(tmp, 'webpushd.yaml');
    fs.writeFileSync(configFile, rewritten);
    const run = childProcess.spawnSync(webpushd, ['--config', configFile, '--check-config'],
                                       {env, encoding: 'utf8', timeout: 60000});
    const output = `${run.stdout || ''}${run.stderr || ''}`.trim();
    if (run.status !== 0) {
      problems.push(`webpushd --check-config: exit ${run.status}: ${output}`);
    } else {
      console.log(`  ${output}`);
    }
    // The effective values, as the service resolves them (file + environment).
    const printed = childProcess.spawnSync(webpushd, ['--config', configFile, '--print-config'],
                                           {env, encoding: 'utf8', timeout: 60000});
    const effective = printed.status === 0 ? YAML.parse(printed.stdout) : config;
    const grace = durationSeconds(effective.server.shutdown_grace);
    const podGrace = pod.terminationGracePeriodSeconds === undefined ? 30 : pod.terminationGracePeriodSeconds;
    if (!(podGrace > grace)) {
      problems.push(`terminationGracePeriodSeconds ${podGrace} is not above server.shutdown_grace ` +
                    `${effective.server.shutdown_grace}`);
    }
    const ports = Object.fromEntries((container.ports || []).map((p) => [p.name, p.containerPort]));
    if (ports.grpc !== portOf(effective.server.listen)) {
      problems.push(`container port grpc ${ports.grpc} != server.listen ${effective.server.listen}`);
    }
    if (ports.metrics !== portOf(effective.metrics.listen)) {
      problems.push(`container port metrics ${ports.metrics} != metrics.listen ${effective.metrics.listen}`);
    }
    for (const h of [effective.server.listen, effective.metrics.listen]) {
      if (!/^(0\.0\.0\.0|\[::\]):/.test(String(h))) {
        problems.push(`${h}: not reachable from outside the pod (listen on 0.0.0.0)`);
      }
    }
    for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
      const p = container[probe];
      const port = p && p.httpGet && p.httpGet.port;
      if (!p || (port !== 'metrics' && port !== ports.metrics)) {
        problems.push(`${probe}: must be an httpGet on the metrics port`);
      }
    }
    if (effective.log && effective.log.format !== 'json') {
      problems.push(`log.format is ${effective.log.format}, expected json in the cluster`);
    }
  } finally {
    fs.rmSync(tmp, {recursive: true, force: true});
  }
  return problems;
}

function main(argv) {
  if (argv.length < 2) {
    console.error('usage: check_config.js WEBPUSHD RENDERED.yaml...');
    return 2;
  }
  const [webpushd, ...files] = argv;
  let failed = 0;
  for (const file of files) {
    console.log(`== ${path.basename(file)}`);
    const problems = checkRendering(webpushd, file);
    for (const p of problems) {
      console.log(`FAIL: ${p}`);
    }
    failed += problems.length > 0 ? 1 : 0;
  }
  console.log(`check_config: ${files.length - failed} passed, ${failed} failed`);
  return failed > 0 ? 1 : 0;
}

process.exitCode = main(process.argv.slice(2));
