#!/usr/bin/env node
// validate_k8s.js [FILE...]: validates every object of the given multi-document YAML files (or of
// standard input when none is given, e.g. the output of `kubectl kustomize`) offline against the
// Kubernetes OpenAPI schema, as compiled into the npm packages `kubernetes-models` and
// `@kubernetes-models/prometheus-operator` (ServiceMonitor, PrometheusRule).
//
// Stricter than the schema alone, like `kubeconform -strict`:
//   - an apiVersion/kind that neither package models is an error (never passed silently);
//   - an unknown field in an object whose schema lists its properties is an error (the schema
//     does not say `additionalProperties: false`, so the models alone accept `imagePullPolcy`).
//     The compiled validators read every property their schema knows, so an object is wrapped in
//     a Proxy that records the names read; an own key never read is unknown. Objects whose schema
//     has no properties (free-form maps such as labels, ConfigMap data) are read key by key or not
//     at all, and are not flagged.
// Prints one line per object ("ok Kind/name" or "FAIL Kind/name: why"); exits 1 when any failed,
// 2 on unreadable input.
'use strict';

const fs = require('fs');
const path = require('path');
const YAML = require('yaml');

// Packages that hold models, searched in order: <package>/<group>/<version> ("v1" for core).
const kModelPackages = ['kubernetes-models', '@kubernetes-models/prometheus-operator'];

function findModel(apiVersion, kind) {
  if (typeof apiVersion !== 'string' || typeof kind !== 'string' || !/^[A-Za-z0-9]+$/.test(kind)) {
    return null;
  }
  const subpath = apiVersion;  // group/version, or v1 for the core group
  if (!/^[a-z0-9.-]+(\/[a-z0-9]+)?$/.test(subpath)) {
    return null;
  }
  for (const pkg of kModelPackages) {
    let mod;
    try {
      mod = require(`${pkg}/${subpath}`);
    } catch (e) {
      continue;
    }
    const cls = mod[kind];
    if (cls && cls.apiVersion === apiVersion && cls.kind === kind) {
      return cls;
    }
  }
  return null;
}

// Recorder wraps `value` (deeply) in proxies that note every property name read, per object.
class Recorder {
  constructor() {
    this.reads = new Map();  // target object -> Set of names read
    this.paths = new Map();  // target object -> JSON pointer
  }

  wrap(value, pointer) {
    if (value === null || typeof value !== 'object') {
      return value;
    }
    const target = value;
    const names = new Set();
    this.reads.set(target, names);
    this.paths.set(target, pointer);
    const children = new Map();
    const self = this;
    const child = (key) => {
      if (!children.has(key)) {
        children.set(key, self.wrap(target[key], `${pointer}/${key}`));
      }
      return children.get(key);
    };
    return new Proxy(target, {
      get(t, key) {
        if (typeof key !== 'string') {
          return Reflect.get(t, key);
        }
        names.add(key);
        return Object.prototype.hasOwnProperty.call(t, key) ? child(key) : Reflect.get(t, key);
      },
      has(t, key) {
        if (typeof key === 'string') {
          names.add(key);
        }
        return Reflect.has(t, key);
      },
    });
  }

  // unknownFields returns the pointers of own keys never read in objects that had reads.
  unknownFields() {
    const out = [];
    for (const [target, names] of this.reads) {
      if (Array.isArray(target) || names.size === 0) {
        continue;
      }
      for (const key of Object.keys(target)) {
        if (!names.has(key)) {
          out.push(`${this.paths.get(target)}/${key}`);
        }
      }
    }
    return out;
  }
}

// validateObject returns null when `obj` is valid, else the reason.
function validateObject(obj) {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    return 'not an object';
  }
  const cls = findModel(obj.apiVersion, obj.kind);
  if (!cls) {
    return `unknown kind ${obj.apiVersion}/${obj.kind}: no schema to validate it against`;
  }
  const recorder = new Recorder();
  const proxied = recorder.wrap(JSON.parse(JSON.stringify(obj)), '');
  const reasons = [];
  try {
    cls.prototype.validate.call(proxied);
  } catch (e) {
    reasons.push(`schema: ${e.message}`);
  }
  const unknown = recorder.unknownFields();
  if (unknown.length > 0) {
    reasons.push(`unknown field(s): ${unknown.join(', ')}`);
  }
  return reasons.length > 0 ? reasons.join('; ') : null;
}

function main(argv) {
  const inputs = argv.length > 0 ? argv : ['-'];
  let failed = 0;
  let total = 0;
  for (const file of inputs) {
    let text;
    try {
      text = fs.readFileSync(file === '-' ? 0 : file, 'utf8');
    } catch (e) {
      console.error(`validate_k8s: cannot read ${file}: ${e.message}`);
      return 2;
    }
    const docs = YAML.parseAllDocuments(text);
    for (const doc of docs) {
      if (doc.errors.length > 0) {
        console.log(`FAIL ${file}: YAML: ${doc.errors[0].message}`);
        failed++;
        continue;
      }
      const obj = doc.toJS();
      if (obj === null || obj === undefined) {
        continue;  // an empty document (a trailing ---)
      }
      total++;
      const name = `${obj.kind}/${obj.metadata && obj.metadata.name}`;
      const why = validateObject(obj);
      if (why) {
        failed++;
        console.log(`FAIL ${name} (${path.basename(file)}): ${why}`);
      } else {
        console.log(`ok ${name}`);
      }
    }
  }
  if (total === 0) {
    console.log('FAIL: no objects in the input');
    return 1;
  }
  console.log(`validate_k8s: ${total - failed} valid, ${failed} invalid`);
  return failed > 0 ? 1 : 0;
}

process.exitCode = main(process.argv.slice(2));
