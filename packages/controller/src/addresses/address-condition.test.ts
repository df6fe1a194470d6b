import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Condition } from '@kubernetes/client-node';
import {
  assignedCondition,
  CONDITION_ADDRESS_ASSIGNED,
  failedCondition,
  nextConditions,
} from './address-condition.ts';

const service = { metadata: { name: 'db', namespace: 'shop' } };
const earlier = new Date('2026-01-01T00:00:00Z');
const now = new Date('2026-01-02T00:00:00Z');

/** Another controller's condition on the same Service, which Pier must keep. */
const foreign: V1Condition = {
  type: 'example.com/Ready',
  status: 'True',
  reason: 'Ready',
  message: '',
  lastTransitionTime: earlier,
};

function assigned(at: Date): V1Condition {
  return { ...assignedCondition(service, ['192.0.2.1'], 'lan'), lastTransitionTime: at };
}

function exhausted(at: Date): V1Condition {
  return {
    ...failedCondition(service, 'PIER_POOL_EXHAUSTED', 'pool lan has no free address'),
    lastTransitionTime: at,
  };
}

test('the conditions say True once assigned, False with the error code as reason otherwise', () => {
  assert.deepEqual(assignedCondition(service, ['192.0.2.1', '2001:db8::1'], 'lan'), {
    type: CONDITION_ADDRESS_ASSIGNED,
    status: 'True',
    reason: 'Assigned',
    message: 'Assigned 192.0.2.1, 2001:db8::1 from pool lan',
  });
  assert.deepEqual(failedCondition(service, 'PIER_NO_POOL', 'no pool with autoAssign'), {
    type: CONDITION_ADDRESS_ASSIGNED,
    status: 'False',
    reason: 'PIER_NO_POOL',
    message: 'no pool with autoAssign',
  });
  // An object with a generation (unlike a Service) gets it as observedGeneration.
  assert.equal(
    failedCondition({ metadata: { generation: 4 } }, 'PIER_NO_POOL', '').observedGeneration,
    4,
  );
});

test('nextConditions writes only a change, keeps others’ conditions and the transition time', () => {
  const rows: Array<{
    what: string;
    current: V1Condition[];
    next: ReturnType<typeof assignedCondition> | undefined;
    expected: V1Condition[] | undefined;
  }> = [
    {
      what: 'first condition',
      current: [foreign],
      next: assignedCondition(service, ['192.0.2.1'], 'lan'),
      expected: [foreign, assigned(now)],
    },
    {
      what: 'unchanged (the time read back as a string)',
      // Objects from a watch carry the time as the JSON string, whatever the type says.
      current: [
        { ...assigned(earlier), lastTransitionTime: earlier.toISOString() as unknown as Date },
        foreign,
      ],
      next: assignedCondition(service, ['192.0.2.1'], 'lan'),
      expected: undefined,
    },
    {
      what: 'True to False: a new transition time',
      current: [assigned(earlier), foreign],
      next: failedCondition(service, 'PIER_POOL_EXHAUSTED', 'pool lan has no free address'),
      expected: [foreign, exhausted(now)],
    },
    {
      what: 'another reason while False: the transition time stays',
      current: [exhausted(earlier)],
      next: failedCondition(service, 'PIER_SHARING_CONFLICT', 'port TCP/80 is taken'),
      expected: [
        {
          ...failedCondition(service, 'PIER_SHARING_CONFLICT', 'port TCP/80 is taken'),
          lastTransitionTime: earlier,
        },
      ],
    },
    {
      what: 'no longer Pier’s: its condition goes, the others stay',
      current: [assigned(earlier), foreign],
      next: undefined,
      expected: [foreign],
    },
    {
      what: 'never Pier’s: nothing to write',
      current: [foreign],
      next: undefined,
      expected: undefined,
    },
  ];
  for (const row of rows) {
    assert.deepEqual(nextConditions(row.current, row.next, now), row.expected, row.what);
  }
});
