#!/usr/bin/env node
// sync_prometheusrule.js [--write]: deploy/kubernetes/base/prometheusrule.yaml is
// deploy/prometheus/alerts.yaml (the promtool-checked plain rule file) wrapped in a
// PrometheusRule. Without --write, exits 1 when the two differ; with --write, regenerates it.
'use strict';

const fs = require('fs');
const path = require('path');
const util = require('util');
const YAML = require('yaml');

const root = path.resolve(__dirname, '..', '..');
const rulesFile = path.join(root, 'deploy/prometheus/alerts.yaml');
const crFile = path.join(root, 'deploy/kubernetes/base/prometheusrule.yaml');

const groups = YAML.parse(fs.readFileSync(rulesFile, 'utf8')).groups;
if (process.argv.includes('--write')) {
  const cr = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: {
      name: 'webpushd',
      labels: {
        'app.kubernetes.io/name': 'webpushd',
        'app.kubernetes.io/component': 'dispatcher',
        'app.kubernetes.io/part-of': 'webpush-dispatcher',
      },
    },
    spec: {groups},
  };
  const header = '# Generated from deploy/prometheus/alerts.yaml by ' +
      'tests/deploy/sync_prometheusrule.js --write; do not edit.\n';
  fs.writeFileSync(crFile, header + YAML.stringify(cr, {lineWidth: 100, blockQuote: 'literal'}));
  console.log(`wrote ${path.relative(root, crFile)}`);
  process.exit(0);
}
const cr = YAML.parse(fs.readFileSync(crFile, 'utf8'));
if (!util.isDeepStrictEqual(cr.spec && cr.spec.groups, groups)) {
  console.log(`FAIL: ${path.relative(root, crFile)} differs from ${path.relative(root, rulesFile)};` +
              ' run: node tests/deploy/sync_prometheusrule.js --write');
  process.exit(1);
}
console.log('ok: the PrometheusRule carries exactly the groups of alerts.yaml');
