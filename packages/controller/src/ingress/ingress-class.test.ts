import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Ingress, V1IngressClass } from '@kubernetes/client-node';
import { classifyIngress, ingressDialect, PIER_CONTROLLER_NAME } from './ingress-class.ts';

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

test('--ingress-class-compat: a named class is served by name, with or without an IngressClass', () => {
  const compat = new Set(['nginx']);
  const rows: Array<[string, V1Ingress, V1IngressClass[], boolean, boolean]> = [
    // name, ingress, classes, ours, with ingress-nginx's defaults
    ['ingressClassName nginx, ingress-nginx class exists', ing('nginx'), [pier, nginx], true, true],
    ['ingressClassName nginx, no IngressClass object', ing('nginx'), [pier], true, true],
    ['legacy annotation nginx, no IngressClass object', ing(undefined, 'nginx'), [], true, true],
    ['a Pier class stays Pier’s', ing('pier'), [pier, nginx], true, false],
    ['another class is still not served', ing('traefik'), [pier, nginx], false, false],
    [
      'class-less with a default Pier class: Pier’s defaults',
      ing(),
      [pierDefault, nginx],
      true,
      false,
    ],
    ['class-less, nginx the default class', ing(), [pier, nginxDefault], true, true],
    [
      'a class named nginx whose controller is Pier’s: Pier’s defaults',
      ing('nginx'),
      [cls('nginx', PIER_CONTROLLER_NAME)],
      true,
      false,
    ],
  ];
  for (const [name, ingress, classes, ours, nginxClass] of rows) {
    assert.equal(classifyIngress(ingress, classes, compat).ours, ours, name);
    assert.equal(ingressDialect(ingress, classes, compat).nginxClass, nginxClass, name);
  }
  // Without the flag, nothing changes.
  assert.equal(classifyIngress(ing('nginx'), [pier, nginx]).ours, false);
  assert.equal(ingressDialect(ing('nginx'), [pier, nginx], new Set()).nginxClass, false);
});
