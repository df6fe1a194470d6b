import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Ingress, V1IngressClass } from '@kubernetes/client-node';
import { classifyIngress, PIER_CONTROLLER_NAME } from './ingress-class.ts';

function cls(name: string, controller: string, isDefault = false): V1IngressClass {
  return {
    metadata: {
      name,
      ...(isDefault
        ? { annotations: { 'ingressclass.kubernetes.io/is-default-class': 'true' } }
        : {}),
    },
    spec: { controller },
  };
}

function ing(className?: string, legacy?: string): V1Ingress {
  return {
    metadata: {
      name: 'i',
      namespace: 'n',
      ...(legacy ? { annotations: { 'kubernetes.io/ingress.class': legacy } } : {}),
    },
    spec: className ? { ingressClassName: className } : {},
  };
}

const pier = cls('pier', PIER_CONTROLLER_NAME);
const pierDefault = cls('pier', PIER_CONTROLLER_NAME, true);
const nginx = cls('nginx', 'k8s.io/ingress-nginx');
const nginxDefault = cls('nginx', 'k8s.io/ingress-nginx', true);

const cases: Array<{ name: string; ingress: V1Ingress; classes: V1IngressClass[]; ours: boolean }> =
  [
    { name: 'names a Pier class', ingress: ing('pier'), classes: [pier, nginx], ours: true },
    {
      name: 'names another controller’s class',
      ingress: ing('nginx'),
      classes: [pier, nginx],
      ours: false,
    },
    {
      name: 'names a class that does not exist',
      ingress: ing('gone'),
      classes: [pier],
      ours: false,
    },
    {
      name: 'class-less, Pier class is default',
      ingress: ing(),
      classes: [pierDefault, nginx],
      ours: true,
    },
    {
      name: 'class-less, Pier class not default',
      ingress: ing(),
      classes: [pier, nginx],
      ours: false,
    },
    {
      name: 'class-less, another class is default',
      ingress: ing(),
      classes: [pier, nginxDefault],
      ours: false,
    },
    {
      name: 'ingressClassName wins over a default Pier class',
      ingress: ing('nginx'),
      classes: [pierDefault, nginx],
      ours: false,
    },
    {
      name: 'legacy annotation names Pier',
      ingress: ing(undefined, 'pier'),
      classes: [pier],
      ours: true,
    },
    {
      name: 'legacy annotation names nginx, Pier default',
      ingress: ing(undefined, 'nginx'),
      classes: [pierDefault, nginx],
      ours: false,
    },
    { name: 'no classes at all', ingress: ing(), classes: [], ours: false },
  ];

for (const c of cases) {
  test(`class: ${c.name}`, () => {
    assert.equal(classifyIngress(c.ingress, c.classes).ours, c.ours);
  });
}
