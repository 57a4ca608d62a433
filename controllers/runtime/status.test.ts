import { describe, expect, it } from '@jest/globals';
import type { Condition } from '../../apis/meta/types.ts';
import { mergePatchBetween } from './status.ts';
import { findCondition, isConditionTrue, isStatusCurrent, removeCondition, setCondition, toReason } from '../../apis/meta/conditions.ts';
import { jsonEqual } from '../../apis/meta/equality.ts';
import { microTimestamp, timestamp } from '../../apis/meta/time.ts';

const T0 = new Date('2026-01-01T00:00:00.000Z');
const T1 = new Date('2026-01-01T00:05:00.000Z');

describe('setCondition (meta.SetStatusCondition semantics)', () => {
  it('adds a new condition with lastTransitionTime now and observedGeneration', () => {
    const conditions = setCondition(undefined, { type: 'Ready', status: 'False', reason: 'Provisioning', message: 'creating the router' }, 3, T0);
    expect(conditions).toEqual([{ type: 'Ready', status: 'False', reason: 'Provisioning', message: 'creating the router', lastTransitionTime: '2026-01-01T00:00:00Z', observedGeneration: 3 }]);
  });

  it('keeps lastTransitionTime when the status does not change, but takes reason, message and generation', () => {
    const first = setCondition([], { type: 'Ready', status: 'False', reason: 'Provisioning' }, 1, T0);
    const second = setCondition(first, { type: 'Ready', status: 'False', reason: 'WaitingForSubnet', message: 'x' }, 2, T1);
    expect(second[0]).toEqual({ type: 'Ready', status: 'False', reason: 'WaitingForSubnet', message: 'x', lastTransitionTime: '2026-01-01T00:00:00Z', observedGeneration: 2 });
  });

  it('moves lastTransitionTime when the status changes', () => {
    const first = setCondition([], { type: 'Ready', status: 'False', reason: 'Provisioning' }, 1, T0);
    const second = setCondition(first, { type: 'Ready', status: 'True', reason: 'Ready' }, 1, T1);
    expect(second[0].lastTransitionTime).toBe('2026-01-01T00:05:00Z');
    expect(second[0].status).toBe('True');
  });

  it('uses a given lastTransitionTime, leaves other conditions alone and never mutates its input', () => {
    const input: Condition[] = [
      { type: 'Ready', status: 'True', reason: 'Ready', message: '', lastTransitionTime: '2025-01-01T00:00:00Z' },
      { type: 'Reconciling', status: 'True', reason: 'Progressing', message: '', lastTransitionTime: '2025-01-01T00:00:00Z' },
    ];
    const frozen = structuredClone(input);
    const result = setCondition(input, { type: 'Ready', status: 'False', reason: 'Broken', lastTransitionTime: '2025-06-01T00:00:00Z' }, undefined, T1);
    expect(input).toEqual(frozen);
    expect(result[0]).toEqual({ type: 'Ready', status: 'False', reason: 'Broken', message: '', lastTransitionTime: '2025-06-01T00:00:00Z' });
    expect(result[1]).toEqual(input[1]);
    expect(result[1]).not.toBe(input[1]);
  });

  it('an identical set is a no-op (so status writes can be skipped)', () => {
    const first = setCondition([], { type: 'Ready', status: 'True', reason: 'Ready', message: 'ok' }, 4, T0);
    const again = setCondition(first, { type: 'Ready', status: 'True', reason: 'Ready', message: 'ok' }, 4, T1);
    expect(jsonEqual(first, again)).toBe(true);
  });

  it('finds, tests and removes conditions', () => {
    const conditions = setCondition(setCondition([], { type: 'Ready', status: 'True', reason: 'Ready' }, 1, T0), { type: 'Stalled', status: 'True', reason: 'BadSpec' }, 1, T0);
    expect(findCondition(conditions, 'Stalled')?.reason).toBe('BadSpec');
    expect(isConditionTrue(conditions, 'Ready')).toBe(true);
    expect(isConditionTrue(conditions, 'Reconciling')).toBe(false);
    expect(removeCondition(conditions, 'Stalled').map((condition) => condition.type)).toEqual(['Ready']);
  });
});

describe('status helpers', () => {
  it('formats Kubernetes timestamps', () => {
    expect(timestamp(new Date('2026-01-02T03:04:05.678Z'))).toBe('2026-01-02T03:04:05Z');
    expect(microTimestamp(new Date('2026-01-02T03:04:05.678Z'))).toBe('2026-01-02T03:04:05.678000Z');
  });

  it('turns any text into a CamelCase reason', () => {
    expect(toReason('subnet in use')).toBe('SubnetInUse');
    expect(toReason('InvalidCIDR')).toBe('InvalidCIDR');
    expect(toReason('cidr-overlaps: 10.0.0.0/8')).toBe('CidrOverlaps100008');
    expect(toReason('42 things')).toBe('Things');
    expect(toReason('!!!')).toBe('Error');
  });

  it('isStatusCurrent compares observedGeneration with generation', () => {
    expect(isStatusCurrent({ metadata: { generation: 2 }, status: { observedGeneration: 2 } })).toBe(true);
    expect(isStatusCurrent({ metadata: { generation: 3 }, status: { observedGeneration: 2 } })).toBe(false);
    expect(isStatusCurrent({ metadata: { generation: 1 } })).toBe(false);
  });

  it('jsonEqual ignores key order and undefined members', () => {
    expect(jsonEqual({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1 })).toBe(true);
    expect(jsonEqual({ a: 1, b: undefined }, { a: 1 })).toBe(true);
    expect(jsonEqual([1, 2], [2, 1])).toBe(false);
    expect(jsonEqual({ a: null }, { a: undefined })).toBe(false);
  });

  it('mergePatchBetween produces the minimal merge patch (null deletes, lists replace)', () => {
    expect(mergePatchBetween({ a: 1, b: { c: 1, d: 2 }, e: [1], gone: 'x' }, { a: 1, b: { c: 1, d: 3 }, e: [1, 2] })).toEqual({ b: { d: 3 }, e: [1, 2], gone: null });
    expect(mergePatchBetween(undefined, { a: 1 })).toEqual({ a: 1 });
    expect(mergePatchBetween({ a: 1 }, undefined)).toBeNull();
  });
});
