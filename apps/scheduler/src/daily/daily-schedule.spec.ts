import { dueDataDate, parseTimeOfDay } from './daily-schedule';

describe('daily schedule', () => {
  const at = parseTimeOfDay('00:15');

  it('is due for yesterday from the slot on, all day', () => {
    expect(dueDataDate(new Date('2026-11-23T00:14:59Z'), at)).toBeNull();
    expect(dueDataDate(new Date('2026-11-23T00:15:00Z'), at)).toBe('2026-11-22');
    expect(dueDataDate(new Date('2026-11-23T23:59:00Z'), at)).toBe('2026-11-22');
    expect(dueDataDate(new Date('2027-01-01T06:00:00Z'), at)).toBe('2026-12-31');
  });

  it('reads HH:MM and refuses anything else', () => {
    expect(parseTimeOfDay('23:05')).toEqual({ hour: 23, minute: 5 });
    expect(() => parseTimeOfDay('24:00')).toThrow(/HH:MM/);
    expect(() => parseTimeOfDay('7:5')).toThrow(/HH:MM/);
  });
});
