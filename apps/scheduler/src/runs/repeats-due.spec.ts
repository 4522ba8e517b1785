import { repeatsDue } from './reconciler.service';

describe('asking the broker again about an unleased job', () => {
  it('asks at 30 s, then after gaps doubling to 8 min, so a job waiting an hour is asked 10 times, not 120', () => {
    const s = (seconds: number) => repeatsDue(seconds * 1000);
    expect([s(0), s(29.9), s(30), s(89), s(90), s(210), s(450), s(930), s(1409), s(1410)]).toEqual([0, 0, 1, 1, 2, 3, 4, 5, 5, 6]);
    expect(s(3600)).toBe(10);
  });
});
