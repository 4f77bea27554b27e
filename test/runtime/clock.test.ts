import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/runtime/clock.ts';

describe('ManualClock', () => {
  it('fires timers in time order with now() at the moment each falls due', async () => {
    const clock = new ManualClock(0);
    const fired: string[] = [];
    clock.every(300, async () => void fired.push(`a@${clock.now()}`));
    clock.every(500, async () => void fired.push(`b@${clock.now()}`));
    await clock.advance(1000);
    expect(fired).toEqual(['a@300', 'b@500', 'a@600', 'a@900', 'b@1000']);
    expect(clock.now()).toBe(1000);
  });

  it('stops a timer when asked', async () => {
    const clock = new ManualClock(0);
    let ticks = 0;
    const stop = clock.every(100, async () => void ticks++);
    await clock.advance(250);
    stop();
    stop();
    await clock.advance(1000);
    expect(ticks).toBe(2);
  });

  it('jumps without firing timers, as a frozen process would', async () => {
    const clock = new ManualClock(0);
    let ticks = 0;
    clock.every(100, async () => void ticks++);
    clock.jump(1000);
    expect(ticks).toBe(0);
    await clock.advance(0);
    expect(ticks).toBe(1);
  });

  it('refuses to go backwards', async () => {
    const clock = new ManualClock(1000);
    await expect(clock.advance(-1)).rejects.toThrow(RangeError);
    expect(() => clock.jump(-1)).toThrow(RangeError);
  });
});
