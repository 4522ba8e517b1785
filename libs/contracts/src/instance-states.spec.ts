import { canTransitionInstance, INSTANCE_STATES, instanceStatesInto, LIVE_INSTANCE_STATES } from './states';

describe('the instance state machine', () => {
  it('moves a rented instance from its row to its destroy, and never back', () => {
    const path = ['creating', 'booting', 'bootstrapping', 'ready', 'busy', 'ready', 'draining', 'destroying', 'destroyed'] as const;
    for (let i = 1; i < path.length; i++) expect(canTransitionInstance(path[i - 1]!, path[i]!)).toBe(true);
    expect(INSTANCE_STATES.filter((s) => canTransitionInstance('destroyed', s))).toEqual([]);
    expect(canTransitionInstance('destroying', 'ready')).toBe(false);
    expect(canTransitionInstance('draining', 'busy')).toBe(false);
  });

  it('lets every live state be destroyed, and only a create refused before it acted skip `destroying`', () => {
    for (const s of LIVE_INSTANCE_STATES.filter((s) => s !== 'destroying')) expect(canTransitionInstance(s, 'destroying')).toBe(true);
    expect(instanceStatesInto('destroyed')).toEqual(['creating', 'destroying']);
    expect(LIVE_INSTANCE_STATES).not.toContain('destroyed');
  });
});
